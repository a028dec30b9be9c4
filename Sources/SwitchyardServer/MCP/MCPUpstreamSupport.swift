import Logging
import SwitchyardCore
import Synchronization

/// Requests to an MCP server whose answers arrive apart from them (on a process's stdout, on
/// an SSE stream), matched by their JSON-RPC id. An answer that arrives before its caller
/// waits for it (while the request is still being sent) is kept for it.
final class MCPPendingRequests: Sendable {
    private enum Slot {
        case expecting
        case waiting(CheckedContinuation<JSONRPCMessage, any Error>)
        case answered(Result<JSONRPCMessage, any Error>)
    }

    private let state = Mutex<(nextID: Int, slots: [Int: Slot])>((1, [:]))

    /// Sends a request with `send` and waits at most `timeout` for its answer. A failed send
    /// or `failAll` ends the wait with that error; running out of time is `timeout`.
    func request(
        _ method: String, params: JSONValue?, server: String, timeout: Duration, ended: String,
        send: @escaping @Sendable (JSONRPCMessage) async throws -> Void
    ) async throws(JSONRPCError) -> JSONRPCMessage {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            state.slots[state.nextID] = .expecting
            return state.nextID
        }
        let message = JSONRPCMessage.request(id: JSONValue(id), method: method, params: params)
        let outcome: Result<JSONRPCMessage, any Error>? = await withTimeout(timeout) { [self] in
            do {
                try await send(message)
                return .success(try await answer(id))
            } catch {
                return .failure(error)
            }
        }
        discard(id)
        switch outcome {
        case .success(let answer)?: return answer
        case .failure(let error as JSONRPCError)?: throw error
        case .failure?: throw .serverUnavailable(server, reason: ended)
        case nil: throw .timeout(server)
        }
    }

    /// Waits for the answer with `id` (at once when it came already).
    private func answer(_ id: Int) async throws -> JSONRPCMessage {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSONRPCMessage, any Error>) in
                let ready: Result<JSONRPCMessage, any Error>? = state.withLock { state in
                    switch state.slots[id] {
                    case .answered(let result):
                        state.slots[id] = nil
                        return result
                    case .expecting:
                        state.slots[id] = .waiting(continuation)
                        return nil
                    case .waiting, nil:
                        return .failure(CancellationError())
                    }
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            self.discard(id)
        }
    }

    /// Forgets `id` (answered, given up or cancelled); a caller still waiting is cancelled.
    private func discard(_ id: Int) {
        let continuation: CheckedContinuation<JSONRPCMessage, any Error>? = state.withLock { state in
            guard case .waiting(let continuation) = state.slots.removeValue(forKey: id) else { return nil }
            return continuation
        }
        continuation?.resume(throwing: CancellationError())
    }

    /// The server's answer (or a failure) for `id`; ignored when nobody asked.
    func resolve(_ id: Int, with result: Result<JSONRPCMessage, any Error>) {
        let continuation: CheckedContinuation<JSONRPCMessage, any Error>? = state.withLock { state in
            switch state.slots[id] {
            case .expecting:
                state.slots[id] = .answered(result)
                return nil
            case .waiting(let continuation):
                state.slots[id] = nil
                return continuation
            case .answered, nil:
                return nil
            }
        }
        continuation?.resume(with: result)
    }

    /// An answer the server sent: passed to the request it answers.
    func received(_ message: JSONRPCMessage) {
        switch message {
        case .response(let id, _), .error(let id, _):
            if let id = id.intValue { resolve(id, with: .success(message)) }
        default:
            break
        }
    }

    /// The result of `method` from the server's answer; its error as it sent it.
    static func result(of answer: JSONRPCMessage, method: String, server: String) throws(JSONRPCError) -> JSONValue {
        switch answer {
        case .response(_, let result): return result
        case .error(_, let error): throw JSONRPCError(code: error.code, message: error.message)
        default: throw .upstreamError(server, detail: "no answer to \(method)")
        }
    }

    /// Ends every request still waiting (the connection or the process ended).
    func failAll(_ error: JSONRPCError) {
        let ids = state.withLock { Array($0.slots.keys) }
        for id in ids { resolve(id, with: .failure(error)) }
    }
}

extension MCPUpstream {
    /// Right after start (or a reconnection) the server may still be initializing: waits for
    /// that, at most the server's timeout.
    func waitWhileStarting() async {
        let deadline = ContinuousClock.now + config.timeout
        while case .starting = status, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The error of a call made while the server cannot take it.
    func notReady() -> JSONRPCError {
        if case .down(let reason) = status { return .serverUnavailable(config.name, reason: reason) }
        return .serverUnavailable(config.name, reason: "the server is starting")
    }

    /// Keeps a connection to the server (its process, its event stream) until cancelled:
    /// `connect` runs one until it ends and says why; the next starts after
    /// ``MCPServerConfig/restartDelay``, doubling up to ``MCPServerConfig/maxRestartDelay``
    /// while they keep failing (back to the start after one that lasted a minute).
    func keepConnected(events: MCPUpstreamEvents, down: (String) -> Void, _ connect: () async -> String) async {
        var delay = config.restartDelay
        var first = true
        while !Task.isCancelled {
            if !first { events.restarted(config.name) }
            first = false
            let started = ContinuousClock.now
            let reason = await connect()
            if Task.isCancelled { break }
            down(reason)
            if ContinuousClock.now - started > .seconds(60) { delay = config.restartDelay }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, config.maxRestartDelay)
        }
        down("the gateway is shutting down")
    }
}

extension MCPUpstreamEvents {
    /// Reports a server's new status when it differs from `previous`; a server going down is
    /// logged when a `logger` is given (the stdio supervisor logs its own reasons).
    func report(_ status: MCPServerStatus, previous: MCPServerStatus, server: String, logger: Logger?) {
        guard status != previous else { return }
        statusChanged(server, status)
        if let logger, case .down(let reason) = status {
            logger.warning("mcp server unavailable", metadata: ["mcp_server": .string(server), "reason": .string(reason)])
        }
    }
}
