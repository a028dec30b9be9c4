import NIOCore
import Testing

@testable import SwitchyardCore

@Suite struct SSEParserTests {
    func parse(_ pieces: [String], parser: inout SSEParser) throws -> [SSEEvent] {
        var events: [SSEEvent] = []
        for piece in pieces {
            try parser.feed(ByteBuffer(string: piece)) { events.append($0) }
        }
        return events
    }

    /// An event is written as one `data:` line per line of its data, the blank line after: the
    /// same bytes as line-by-line writing, for data with newlines anywhere (none, leading,
    /// trailing, doubled) and of every length up to a few words.
    @Test func writtenEventsSplitTheirDataAtEveryNewline() {
        var state: UInt64 = 0x55E_2026
        for length in 0..<40 {
            for _ in 0..<20 {
                let data: [UInt8] = (0..<length).map { _ in
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return (state >> 33) % 5 == 0 ? 0x0A : UInt8(ascii: "a") + UInt8((state >> 40) % 26)
                }
                var buffer = ByteBuffer()
                SSEEvent(data: data).write(to: &buffer)
                let expected = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { "data: " + String(decoding: $0, as: UTF8.self) + "\n" }.joined() + "\n"
                #expect(String(buffer: buffer) == expected, "\(String(decoding: data, as: UTF8.self).debugDescription)")
            }
        }
    }

    @Test func parsesEventsSplitAtEveryByte() throws {
        let stream = "event: message_start\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n"
        // Feed one byte at a time: every boundary must work.
        var parser = SSEParser()
        let events = try parse(stream.map { String($0) }, parser: &parser)
        #expect(events.count == 3)
        #expect(events[0].event == "message_start")
        #expect(events[0].dataString == "{\"a\":1}")
        #expect(events[1].event == nil)
        #expect(events[1].dataString == "line1\nline2")
        #expect(events[2].dataString == "[DONE]")
    }

    @Test func acceptsCRLFAndCRLineEndings() throws {
        var parser = SSEParser()
        let events = try parse(["data: a\r\n\r", "\ndata: b\r\rdata:c\n\n"], parser: &parser)
        #expect(events.map(\.dataString) == ["a", "b", "c"])
    }

    @Test func stripsOnlyOneLeadingSpace() throws {
        var parser = SSEParser()
        let events = try parse(["data:  two spaces\n\n"], parser: &parser)
        #expect(events.first?.dataString == " two spaces")
    }

    @Test func reportsTruncatedFinalEvent() throws {
        var parser = SSEParser()
        let events = try parse(["data: complete\n\ndata: partial"], parser: &parser)
        #expect(events.count == 1)
        #expect(parser.finish() == true)
    }

    @Test func boundsLineLength() {
        var parser = SSEParser(maximumLineLength: 16)
        #expect(throws: SSEParser.LineTooLong.self) {
            try parser.feed(ByteBuffer(string: "data: " + String(repeating: "x", count: 64))) { _ in }
        }
    }

    @Test func writesEventsWithMultilineData() {
        var buffer = ByteBuffer()
        SSEEvent(event: "e", data: Array("a\nb".utf8)).write(to: &buffer)
        #expect(String(buffer: buffer) == "event: e\ndata: a\ndata: b\n\n")
    }
}
