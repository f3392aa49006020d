// Published test vectors for the MAC primitives, shared by the tests of every Crypto
// implementation: RFC 1321 §A.5 (MD5), FIPS 180-2 Appendices A and B (SHA-1, SHA-256: "abc", the
// empty string and the 448-bit message), FIPS 197 Appendices B and C.1 (AES-128) and RFC 4493 §4
// (AES-CMAC, subkeys and the four examples).

/** Hex to bytes (whitespace ignored). */
export function hex(text: string): Uint8Array {
  const t = text.replace(/\s+/g, "");
  return Uint8Array.from(
    { length: t.length / 2 },
    (_, i) => parseInt(t.slice(2 * i, 2 * i + 2), 16),
  );
}

/** Bytes to lowercase hex. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const LONG = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

/** Message (ASCII) → digest (hex) per hash. */
export const DIGEST_VECTORS: Record<"MD5" | "SHA1" | "SHA256", [string, string][]> = {
  MD5: [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    [
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      "d174ab98d277d9f5a5611c2c9f419d9f",
    ],
    ["1234567890".repeat(8), "57edf4a22be3c955ac49da2e2107b67a"],
  ],
  SHA1: [
    ["", "da39a3ee5e6b4b0d3255bfef95601890afd80709"],
    ["abc", "a9993e364706816aba3e25717850c26c9cd0d89d"],
    [LONG, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"],
  ],
  SHA256: [
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    [LONG, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
  ],
};

/** AES-128 single blocks: [key, plaintext, ciphertext]. */
export const AES128_VECTORS: [string, string, string][] = [
  [
    "2b7e151628aed2a6abf7158809cf4f3c",
    "3243f6a8885a308d313198a2e0370734",
    "3925841d02dc09fbdc118597196a0b32",
  ],
  [
    "000102030405060708090a0b0c0d0e0f",
    "00112233445566778899aabbccddeeff",
    "69c4e0d86a7b0430d8cdb78070b4c55a",
  ],
];

/** RFC 4493 §4: the key, its subkeys and the message the four examples take prefixes of. */
export const CMAC_KEY = "2b7e151628aed2a6abf7158809cf4f3c";
/** AES-128(K, 0^128). */
export const CMAC_L = "7df76b0c1ab899b33e42f047b91b546f";
/** Subkey K1. */
export const CMAC_K1 = "fbeed618357133667c85e08f7236a8de";
/** Subkey K2. */
export const CMAC_K2 = "f7ddac306ae266ccf90bc11ee46d513b";
const CMAC_MESSAGE = "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" +
  "30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710";

/** [message (hex), tag (hex)]: examples 1–4 (lengths 0, 16, 40 and 64). */
export const CMAC_VECTORS: [string, string][] = [
  ["", "bb1d6929e95937287fa37d129b756746"],
  [CMAC_MESSAGE.slice(0, 32), "070a16b46b4d4144f79bdd9dd04a287c"],
  [CMAC_MESSAGE.slice(0, 80), "dfa66747de9ae63030ca32611497c827"],
  [CMAC_MESSAGE, "51f0bebf7e3b9d92fc49741779363cfe"],
];
