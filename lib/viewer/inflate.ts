/**
 * A small DEFLATE decoder (RFC 1951) for the viewer page's loader: the page
 * holds its script compressed, a third of its size, and inflates it
 * synchronously before any paint, so the script runs while the document
 * loads, exactly as an inline script would (the browser's
 * DecompressionStream is asynchronous: a screenshot taken at the load event
 * would miss the timeline).
 *
 * `inflateRaw` is written to be embedded in the page by its source text
 * (html.ts): it refers to nothing outside its own body.
 *
 * @module
 */

/**
 * Inflates raw DEFLATE data (no zlib or gzip header). Throws on data that
 * is not DEFLATE. Reads bit by bit: about 100 ms per MB, for the page's
 * script a few ms. One function, longer than most: the page embeds it by its
 * source text, so it can use nothing outside its body.
 *
 * @example
 * ```ts
 * import { deflateRawSync } from "node:zlib";
 * import { inflateRaw } from "./inflate.ts";
 * const text = new TextDecoder().decode(inflateRaw(deflateRawSync(new TextEncoder().encode("hi hi hi"))));
 * // "hi hi hi"
 * ```
 */
export function inflateRaw(src: Uint8Array): Uint8Array {
  let out = new Uint8Array(src.length * 4 + 1024), n = 0, pos = 0, bit = 0;
  const room = (k: number) => {
    if (n + k <= out.length) return;
    const grown = new Uint8Array((n + k) * 2);
    grown.set(out);
    out = grown;
  };
  const bits = (k: number) => {
    let v = 0;
    for (let i = 0; i < k; i++) {
      if (pos >= src.length) throw new Error("inflate: the data ends early");
      v |= ((src[pos] >> bit) & 1) << i;
      if (++bit === 8) [bit, pos] = [0, pos + 1];
    }
    return v;
  };
  /** A canonical Huffman code from code lengths: how many codes of each length, symbols in code order. */
  const code = (lens: ArrayLike<number>) => {
    const count = new Uint16Array(16), offs = new Uint16Array(16);
    const sym = new Uint16Array(lens.length);
    for (let i = 0; i < lens.length; i++) count[lens[i]]++;
    count[0] = 0;
    for (let i = 1; i < 16; i++) offs[i] = offs[i - 1] + count[i - 1];
    for (let i = 0; i < lens.length; i++) if (lens[i]) sym[offs[lens[i]]++] = i;
    return { count, sym };
  };
  /** The next symbol: codes are packed first bit first, so the code grows a bit at a time. */
  const decode = (h: { count: Uint16Array; sym: Uint16Array }) => {
    for (let len = 1, c = 0, first = 0, index = 0; len < 16; len++) {
      c |= bits(1);
      const k = h.count[len];
      if (c - first < k) return h.sym[index + c - first];
      index += k;
      first = (first + k) << 1;
      c <<= 1;
    }
    throw new Error("inflate: no such code");
  };
  // Length and distance bases and extra bits, from the RFC's tables' rules.
  const lBase: number[] = [], lExt: number[] = [], dBase: number[] = [], dExt: number[] = [];
  for (let i = 0, b = 3; i < 29; i++) {
    lExt.push(i < 8 || i === 28 ? 0 : (i >> 2) - 1);
    lBase.push(i === 28 ? 258 : b);
    b += 1 << lExt[i];
  }
  for (let i = 0, b = 1; i < 30; i++) {
    dExt.push(i < 4 ? 0 : (i >> 1) - 1);
    dBase.push(b);
    b += 1 << dExt[i];
  }
  const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
  let last = 0;
  while (!last) {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      if (bit) [bit, pos] = [0, pos + 1];
      const len = src[pos] | (src[pos + 1] << 8);
      pos += 4;
      if (pos + len > src.length) throw new Error("inflate: the data ends early");
      room(len);
      out.set(src.subarray(pos, pos + len), n);
      n += len;
      pos += len;
      continue;
    }
    if (type === 3) throw new Error("inflate: not DEFLATE data");
    let lens: Uint8Array, nlen = 288;
    if (type === 1) {
      lens = new Uint8Array(288 + 30).fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280)
        .fill(8, 280, 288).fill(5, 288);
    } else {
      nlen = bits(5) + 257;
      const ndist = bits(5) + 1, ncode = bits(4) + 4;
      const cl = new Uint8Array(19);
      for (let i = 0; i < ncode; i++) cl[ORDER[i]] = bits(3);
      const lengths = code(cl);
      lens = new Uint8Array(nlen + ndist);
      for (let i = 0; i < nlen + ndist;) {
        const sym = decode(lengths);
        if (sym < 16) {
          lens[i++] = sym;
          continue;
        }
        const value = sym === 16 ? lens[i - 1] : 0;
        let rep = sym === 16 ? 3 + bits(2) : sym === 17 ? 3 + bits(3) : 11 + bits(7);
        while (rep-- > 0) lens[i++] = value;
      }
    }
    const lit = code(lens.subarray(0, nlen)), dist = code(lens.subarray(nlen));
    for (let sym = decode(lit); sym !== 256; sym = decode(lit)) {
      if (sym < 256) {
        room(1);
        out[n++] = sym;
        continue;
      }
      const len = lBase[sym - 257] + bits(lExt[sym - 257]);
      const ds = decode(dist);
      const d = dBase[ds] + bits(dExt[ds]);
      if (d > n) throw new Error("inflate: a distance before the start");
      room(len);
      for (let k = 0; k < len; k++, n++) out[n] = out[n - d];
    }
  }
  return out.subarray(0, n);
}
