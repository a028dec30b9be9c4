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
