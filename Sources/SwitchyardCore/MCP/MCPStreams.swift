import Synchronization

/// The gateway's server-initiated messages to its MCP clients: one SSE stream per session (the
/// Streamable HTTP transport's `GET /mcp`), resumable with `Last-Event-ID`.
///
/// A session's stream is opened by its first GET and lives on across reconnections: each event
/// gets an id `<stream>-<sequence>` (the stream part random, so ids are unique across every
/// stream of the session), and the last ``bufferedEvents`` events are kept, so a client that
/// reconnects with the id of the last event it read gets the ones it missed. A client that
/// reconnects with an id the gateway cannot resume from (older than the buffer, another
/// instance's, or from before a restart) gets a new stream that starts with one
/// `list_changed` notification of each list: every message the gateway sends is one of those, so
/// refetching the lists makes up for whatever was lost. A GET without `Last-Event-ID` starts a
/// new stream (nothing is replayed onto it).
///
/// One connection carries a session's stream at a time: a new GET takes the stream over and the
/// older connection ends, so no message goes out on two connections.
public final class MCPStreams: Sendable {
    /// Events kept per session for replay.
    public static let bufferedEvents = 100

    /// One event of a stream: its id and the JSON-RPC message, or a keep-alive comment.
    public enum Event: Sendable, Equatable {
        case message(id: String, data: [UInt8])
        case keepAlive
    }

    /// A connection's side of a stream: what to send first, then the events as they come.
    public struct Subscription: Sendable {
        public let replay: [Event]
        public let events: AsyncStream<Event>
        /// Keep-alives go into the same stream.
        public let continuation: AsyncStream<Event>.Continuation
        let session: String
        let connection: UInt64
    }

    struct Entry {
        var stream: String
        var sequence = 0
        var buffer: [(sequence: Int, event: Event)] = []
        var identity: Identity
        var headers: [HeaderField]
        var connection: (id: UInt64, continuation: AsyncStream<Event>.Continuation)?
        var lastActive: ContinuousClock.Instant

        mutating func append(_ message: JSONRPCMessage) -> Event {
            sequence += 1
            let event = Event.message(id: "\(stream)-\(sequence)", data: message.json.serializedBytes())
            buffer.append((sequence, event))
            if buffer.count > MCPStreams.bufferedEvents { buffer.removeFirst(buffer.count - MCPStreams.bufferedEvents) }
            connection?.continuation.yield(event)
            return event
        }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextConnection: UInt64 = 1
    }

    private let state = Mutex(State())
    /// Told the number of open connections whenever it changes (a gauge).
    private let openChanged: @Sendable (Int) -> Void

    public init(openChanged: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.openChanged = openChanged
    }

    /// Reports the open connections; called under the lock, so reports arrive in order.
    private func report(_ state: State) {
        openChanged(state.entries.values.count { $0.connection != nil })
    }

    /// Opens (or takes over) the stream of `session` for a new connection. `lastEventID` resumes
    /// the stream it names; without it a new stream starts.
    public func open(
        session: String, identity: Identity, headers: [HeaderField], lastEventID: String?, settings: MCPSettings,
        now: ContinuousClock.Instant
    ) -> Subscription {
        let (events, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferedEvents))
        return state.withLock { state in
            Self.prune(&state, settings: settings, now: now, keeping: session)
            let connection = state.nextConnection
            state.nextConnection += 1
            var replay: [Event] = []
            var entry: Entry
            if let existing = state.entries[session], let lastEventID, let resumed = Self.resume(existing, from: lastEventID) {
                existing.connection?.continuation.finish()
                replay = resumed
                entry = existing
            } else {
                state.entries[session]?.connection?.continuation.finish()
                entry = Entry(stream: Self.newStreamID(), identity: identity, headers: headers, lastActive: now)
                if lastEventID != nil {
                    // Whatever was missed cannot be replayed: every list may have changed.
                    for kind in MCPListKind.notified { replay.append(entry.append(.notification(method: kind.changedNotification, params: nil))) }
                }
            }
            entry.identity = identity
            entry.headers = headers
            entry.lastActive = now
            entry.connection = (connection, continuation)
            state.entries[session] = entry
            report(state)
            return Subscription(replay: replay, events: events, continuation: continuation, session: session, connection: connection)
        }
    }

    /// The events after `lastEventID` when it names a retained point of this stream.
    private static func resume(_ entry: Entry, from lastEventID: String) -> [Event]? {
        let parts = lastEventID.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == entry.stream, let sequence = Int(parts[1]), sequence >= 0, sequence <= entry.sequence else { return nil }
        // The first event after `sequence` must still be in the buffer (or nothing was sent since).
        if sequence < entry.sequence, (entry.buffer.first?.sequence ?? Int.max) > sequence + 1 { return nil }
        return entry.buffer.filter { $0.sequence > sequence }.map(\.event)
    }

    /// The connection ended (the client went away or the stream was taken over).
    public func closed(_ subscription: Subscription, now: ContinuousClock.Instant) {
        subscription.continuation.finish()
        state.withLock { state in
            guard state.entries[subscription.session]?.connection?.id == subscription.connection else { return }
            state.entries[subscription.session]?.connection = nil
            state.entries[subscription.session]?.lastActive = now
            report(state)
        }
    }

    /// Sends `message` on the stream of every session `include` accepts (buffered for the ones
    /// whose connection is away). Returns how many streams it went to.
    @discardableResult
    public func send(_ message: JSONRPCMessage, to include: (_ identity: Identity, _ headers: [HeaderField]) -> Bool) -> Int {
        // The filter reads the access rules: run it outside the lock.
        let candidates = state.withLock { state in state.entries.map { ($0.key, $0.value.identity, $0.value.headers) } }
        let chosen = Set(candidates.filter { include($0.1, $0.2) }.map(\.0))
        guard !chosen.isEmpty else { return 0 }
        return state.withLock { state in
            var sent = 0
            for session in chosen where state.entries[session] != nil {
                _ = state.entries[session]!.append(message)
                sent += 1
            }
            return sent
        }
    }

    /// The session ended: its stream ends and its events are dropped.
    public func end(session: String) {
        let entry = state.withLock { state in
            defer { report(state) }
            return state.entries.removeValue(forKey: session)
        }
        entry?.connection?.continuation.finish()
    }

    /// Forgets streams without a connection unused for the session idle timeout, and the least
    /// recently active ones beyond `max_sessions`.
    private static func prune(_ state: inout State, settings: MCPSettings, now: ContinuousClock.Instant, keeping session: String) {
        state.entries = state.entries.filter { key, entry in
            key == session || entry.connection != nil || now - entry.lastActive <= settings.sessionIdleTimeout
        }
        while state.entries.count >= settings.maxSessions,
            let oldest = state.entries.filter({ $0.key != session }).min(by: { $0.value.lastActive < $1.value.lastActive })
        {
            state.entries.removeValue(forKey: oldest.key)?.connection?.continuation.finish()
        }
    }

    private static func newStreamID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value: UInt64 = generator.next()
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension MCPListKind {
    /// The lists whose changes the gateway announces.
    public static let notified: [MCPListKind] = [.tools, .prompts, .resources]

    /// The notification that says this list changed.
    public var changedNotification: String {
        switch self {
        case .tools: "notifications/tools/list_changed"
        case .prompts: "notifications/prompts/list_changed"
        case .resources, .resourceTemplates: "notifications/resources/list_changed"
        }
    }

    /// The list a `list_changed` notification is about.
    public init?(changedNotification method: String) {
        guard let kind = Self.notified.first(where: { $0.changedNotification == method }) else { return nil }
        self = kind
    }
}
