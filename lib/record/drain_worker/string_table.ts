/**
 * The trace-wide string table of the drain worker.
 *
 * @module
 */

/**
 * The trace-wide string table. Each thread interns strings with its own ids;
 * the worker maps them to one id per distinct string.
 */
export class StringTable {
  /** Strings by global id; a writer that starts late defines them all. */
  list: string[] = [""];
  /** Global id by string. */
  ids: Map<string, number> = new Map([["", 0]]);

  /** Adds `text`, not yet in the table, and returns its global id. */
  add(text: string): number {
    const id = this.list.length;
    this.list.push(text);
    this.ids.set(text, id);
    return id;
  }
}
