/**
 * The version of runtrace, as in package.json and deno.json (a test keeps the
 * three equal).
 *
 * @module
 */

/** The version `runtrace --version` prints. */
export const VERSION = "0.1.0";
