/**
 * Stable, distinct colours per type name. A type's colour comes from a hash
 * of its name, so the same task type has the same colour in every trace;
 * within one trace, types whose hashes collide are moved to the next free
 * palette slot (in name order, so the choice is deterministic).
 *
 * @module
 */

/**
 * Twelve hues spread around the wheel, light enough for dark text on top,
 * and distinguishable for the common kinds of colour blindness in pairs
 * that sit next to each other in the palette order.
 */
const PALETTE = [
  "#8ab4f8", // blue
  "#f6ae6b", // orange
  "#81c995", // green
  "#f28b82", // red
  "#c58af9", // purple
  "#fdd663", // yellow
  "#78d9ec", // cyan
  "#ff8bcb", // pink
  "#bcd67a", // olive
  "#d7aefb", // lavender
  "#e8b589", // tan
  "#9fb9c9", // slate
];

/** FNV-1a over the UTF-16 units of `s`. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Assigns a colour to each of `types`: palette slots while they last, then
 * hashed hues.
 *
 * @example
 * ```ts
 * import { assignColors } from "./colors.ts";
 * const colors = assignColors(["makeCappuccino", "steamMilk"]);
 * colors.get("steamMilk"); // a "#rrggbb" or "hsl(...)" string
 * ```
 */
export function assignColors(types: Iterable<string>): Map<string, string> {
  const sorted = [...new Set(types)].sort();
  const used = new Set<number>();
  const out = new Map<string, string>();
  for (const t of sorted) {
    const h = hash(t);
    if (used.size < PALETTE.length) {
      let slot = h % PALETTE.length;
      while (used.has(slot)) slot = (slot + 1) % PALETTE.length;
      used.add(slot);
      out.set(t, PALETTE[slot]);
    } else {
      out.set(t, `hsl(${h % 360} 70% ${68 + (h >> 9) % 10}%)`);
    }
  }
  return out;
}
