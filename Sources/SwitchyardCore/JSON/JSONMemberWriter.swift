/// Writes compact JSON objects straight to bytes, one call per member, for records written once
/// per request (no tree built and serialised). Members are written in call order, an array of
/// objects with ``objects(_:_:_:)``; ``endObject()`` closes the object.
struct JSONMemberWriter {
    private(set) var bytes: [UInt8] = []
    /// Whether the next member is the first of its object (written after `{`, not `,`).
    private var first = true

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// The member's name and colon; the value is the caller's to append.
    mutating func key(_ name: StaticString) {
        bytes.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
        first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        JSONWriter.appendQuoted(value, to: &bytes)
    }

    mutating func int(_ name: StaticString, _ value: Int) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ name: StaticString, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A value already written as JSON text (a number in the caller's format).
    mutating func raw(_ name: StaticString, _ text: String) {
        key(name)
        bytes.append(contentsOf: text.utf8)
    }

    /// An array of objects as the value of `name`: `body` writes each element's members.
    mutating func objects<Items: Sequence>(_ name: StaticString, _ items: Items, _ body: (inout JSONMemberWriter, Items.Element) -> Void) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            first = true
            body(&self, item)
            endObject()
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Closes the object being written (one with no members reads `{}`).
    mutating func endObject() {
        if first { bytes.append(UInt8(ascii: "{")) }
        bytes.append(UInt8(ascii: "}"))
        first = false
    }

    mutating func append(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// A string value where the caller stands (an array element, a key of its own map).
    mutating func appendQuoted(_ text: String) {
        JSONWriter.appendQuoted(text, to: &bytes)
    }

    /// JSON text as it is, where the caller stands.
    mutating func appendRaw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }
}
