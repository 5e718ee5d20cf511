// Compile-time equality of two types: keeps a type spelled out for the public API (plain to
// read in the docs) equal to the one a registry derives, so neither can drift.

/** `true` when A and B are the same type, else `false`. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
