/// base64url (RFC 4648 §5) without padding, as JWS compact serialisation and JWKs use it.
///
/// Decoding is strict: only the 64 URL-safe characters, no `=` padding, no whitespace, and the
/// unused low bits of the last character must be zero, so every byte string has exactly one
/// accepted encoding (a token cannot be altered without changing what it decodes to).
///
/// Kept rather than taken from jwt-kit: jwt-kit's base64url helpers are internal to its
/// package, and this strictness is part of the token contract (a non-canonical segment is
/// `malformed`, not a signature failure). It splits tokens before any key is involved and
/// decodes `oct` JWK secrets, which jwt-kit only accepts as bytes.
public enum Base64URL {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Maps a byte to its 6-bit value, or 0xFF for bytes outside the alphabet.
    static let values: [UInt8] = {
        var values = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { values[Int(byte)] = UInt8(index) }
        return values
    }()

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                output.append(alphabet[Int((buffer >> UInt32(bits)) & 0x3F)])
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        if bits > 0 { output.append(alphabet[Int((buffer << UInt32(6 - bits)) & 0x3F)]) }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes strictly; nil for any character outside the alphabet, padding, a length that
    /// leaves a lone character, or non-zero trailing bits.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text {
            let value = values[Int(byte)]
            if value == 0xFF { return nil }
            buffer = (buffer << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        // Six leftover bits are a lone character (length ≡ 1 mod 4); any set leftover bit is a
        // non-canonical encoding.
        if bits >= 6 || buffer != 0 { return nil }
        return output
    }

    public static func decode(_ text: String) -> [UInt8]? {
        decode(Array(text.utf8))
    }
}
