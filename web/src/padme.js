// PADMÉ padding lengths (Nikitin et al., PETS 2019 §4.3; vault/padding.py): a padded length
// leaks O(log log n) bits of n, at most 11.63 % overhead.
//
//   E = floor(log2 L), S = floor(log2 E) + 1, mask = 2^(E − S) − 1, padded = (L + mask) & ~mask

export class PadmeError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "PadmeError";
    this.code = code;
  }
}

function bitLength(n) {
  // n is a non-negative safe integer
  let bits = 0;
  while (n > 0) {
    n = Math.floor(n / 2);
    bits += 1;
  }
  return bits;
}

/** The PADMÉ length of `n` bytes (a non-negative safe integer; 0 and 1 are unchanged). */
export function padmeLength(n) {
  if (!Number.isSafeInteger(n) || n < 0) throw new PadmeError("length", "a length is a non-negative integer");
  if (n < 2) return n;
  const exponent = bitLength(n) - 1;
  const significant = bitLength(exponent);
  const unit = 2 ** (exponent - significant);
  return Math.ceil(n / unit) * unit;
}
