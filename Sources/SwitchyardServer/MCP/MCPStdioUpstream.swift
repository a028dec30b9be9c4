import Foundation
import Logging
import NIOCore
import NIOPosix
import SwitchyardCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An upstream MCP server the gateway runs as a child process, speaking newline-delimited
/// JSON-RPC on its stdin and stdout (its stderr goes to the gateway's). ``run()`` supervises it:
/// when the process exits it is started again after ``MCPServerConfig/restartDelay``, doubling
/// up to ``MCPServerConfig/maxRestartDelay`` while it keeps failing; calls in flight when it
/// exits fail with `server_unavailable`.
///
/// Started with posix_spawn (not Foundation's `Process`, whose helper threads never end) and
/// read through a NIO pipe channel.
final class MCPStdioUpstream: MCPUpstream {
    let config: MCPServerConfig
    let command: String
    let arguments: [String]
    let workingDirectory: String?
    let events: MCPUpstreamEvents
    let logger: Logger
    let group: any EventLoopGroup
    private let state = Mutex(State())
    private let pending = MCPPendingRequests()

    struct State {
        var status: MCPServerStatus = .starting
        var channel: (any Channel)?
        /// Whether `initialize` has been answered for the current process.
        var initialized = false
    }

    /// The longest line (one message) the server may write.
    static let maximumLineBytes = 16 * 1024 * 1024

    init(
        config: MCPServerConfig, command: String, arguments: [String], workingDirectory: String?, events: MCPUpstreamEvents, logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.config = config
        self.command = command
        self.arguments = arguments
        self.workingDirectory = workingDirectory
        self.events = events
        self.logger = logger
        self.group = group
    }

    var status: MCPServerStatus { state.withLock { $0.status } }

    func call(_ method: String, params: JSONValue?) async throws(JSONRPCError) -> JSONValue {
        await waitWhileStarting()
        guard state.withLock({ $0.initialized }) else { throw notReady() }
        return try MCPPendingRequests.result(of: try await request(method, params: params), method: method, server: config.name)
    }

    /// Writes a request and waits for its answer, at most ``MCPServerConfig/timeout``.
    private func request(_ method: String, params: JSONValue?) async throws(JSONRPCError) -> JSONRPCMessage {
        guard let channel = state.withLock({ $0.channel }) else { throw .serverUnavailable(config.name, reason: "the server is not running") }
        return try await pending.request(
            method, params: params, server: config.name, timeout: config.timeout, ended: "the server's process ended"
        ) { message in
            try await channel.writeAndFlush(ByteBuffer(bytes: message.json.serializedBytes() + [UInt8(ascii: "\n")]))
        }
    }

    /// A line from the server: answers go to their callers; the server's own requests get an
    /// answer (ping) or a refusal; notifications go to the hub (a list that changed).
    private func received(_ bytes: [UInt8], channel: any Channel) {
        guard let value = try? JSONValue.parse(bytes), let message = try? JSONRPCMessage(value) else {
            logger.debug("mcp server wrote a line that is not JSON-RPC", metadata: ["mcp_server": .string(config.name)])
            return
        }
        switch message {
        case .response, .error:
            pending.received(message)
        case .request(let id, let method, _):
            var line = MCPProtocol.answer(serverRequest: id, method: method).json.serializedBytes()
            line.append(UInt8(ascii: "\n"))
            channel.writeAndFlush(ByteBuffer(bytes: line), promise: nil)
        case .notification(let method, _):
            events.notified(config.name, method)
        }
    }

    // MARK: Supervision

    func run() async {
        await keepConnected(events: events, down: { setStatus(.down($0)) }) { [self] in
            do {
                let process = try spawn()
                await supervise(process)
                return "the server's process exited"
            } catch {
                logger.error("mcp server could not be started", metadata: ["mcp_server": .string(config.name), "error": .string("\(error)")])
                return "the server could not be started (\(error))"
            }
        }
    }

    /// Connects to a started process, initializes it and waits until it exits (or the gateway
    /// stops, which ends it).
    private func supervise(_ process: SpawnedProcess) async {
        let name = config.name
        let channel: any Channel
        do {
            channel = try await NIOPipeBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            LineSplitter(maximum: Self.maximumLineBytes) { [weak self] bytes in self?.received(bytes, channel: channel) })
                    }
                }
                .takingOwnershipOfDescriptors(input: process.output, output: process.input)
                .get()
        } catch {
            logger.error("mcp server pipe failed", metadata: ["mcp_server": .string(name), "error": .string("\(error)")])
            process.terminate()
            return
        }
        state.withLock { state in
            state.channel = channel
            state.initialized = false
            state.status = .starting
        }
        logger.notice("mcp server started", metadata: ["mcp_server": .string(name), "pid": .stringConvertible(process.pid)])
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [self] in
                    do {
                        let answer = try await request("initialize", params: MCPProtocol.initializeParams())
                        guard case .response = answer else {
                            logger.error("mcp server refused initialize", metadata: ["mcp_server": .string(name)])
                            channel.close(promise: nil)
                            return
                        }
                        var line = JSONRPCMessage.notification(method: "notifications/initialized", params: nil).json.serializedBytes()
                        line.append(UInt8(ascii: "\n"))
                        try await channel.writeAndFlush(ByteBuffer(bytes: line))
                        state.withLock { $0.initialized = true }
                        setStatus(.ready)
                    } catch {
                        logger.error("mcp server did not initialize", metadata: ["mcp_server": .string(name), "error": .string("\(error)")])
                        channel.close(promise: nil)
                    }
                }
                group.addTask {
                    try? await channel.closeFuture.get()
                }
                await group.waitForAll()
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        state.withLock { state in
            state.channel = nil
            state.initialized = false
        }
        pending.failAll(.serverUnavailable(name, reason: "the server's process exited"))
        let status = await process.finish()
        logger.warning("mcp server exited", metadata: ["mcp_server": .string(name), "status": .stringConvertible(status)])
    }

    private func setStatus(_ status: MCPServerStatus) {
        let previous = state.withLock { state in
            defer { state.status = status }
            return state.status
        }
        events.report(status, previous: previous, server: config.name, logger: nil)
    }

    // MARK: Process

    /// The process's environment: a few variables of the gateway's own (never its secrets) and
    /// the server's configured `env`.
    func environment() -> [String] {
        let inherited = ProcessInfo.processInfo.environment
        var variables: [String: String] = [:]
        for name in ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER"] { if let value = inherited[name] { variables[name] = value } }
        for (name, value) in config.environment { variables[name] = value.reveal() }
        return variables.map { "\($0.key)=\($0.value)" }
    }

    func spawn() throws -> SpawnedProcess {
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        guard pipe(&toChild) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        guard pipe(&fromChild) == 0 else {
            close(toChild[0])
            close(toChild[1])
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE)
        }
        // The gateway's ends must not leak into this or any other child.
        for descriptor in [toChild[1], fromChild[0]] { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        for descriptor in [toChild[0], fromChild[1]] where descriptor > 2 { posix_spawn_file_actions_addclose(&actions, descriptor) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal handling and nothing blocked, whatever the gateway ignores.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        // A working directory goes through the shell (glibc's addchdir is not in the Swift module).
        let program = workingDirectory == nil ? command : "/bin/sh"
        let words = workingDirectory.map { ["/bin/sh", "-c", #"cd -- "$0" && exec "$@""#, $0, command] + arguments } ?? [command] + arguments
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment().map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
        close(toChild[0])
        close(fromChild[1])
        guard result == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .ENOENT)
        }
        return SpawnedProcess(pid: pid, input: toChild[1], output: fromChild[0])
    }
}

/// A child process and the gateway's ends of its stdin and stdout pipes.
struct SpawnedProcess: Sendable {
    let pid: pid_t
    /// Writes to the child's stdin.
    let input: Int32
    /// Reads the child's stdout.
    let output: Int32

    /// Ends the process: SIGTERM, then SIGKILL when it has not exited within a second; reaps it.
    func finish() async -> Int32 {
        if let status = exitStatus() { return status }
        _ = kill(pid, SIGTERM)
        for _ in 0..<100 {
            if let status = exitStatus() { return status }
            try? await Task.sleep(for: .milliseconds(10))
        }
        _ = kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        return status
    }

    func terminate() {
        _ = kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    /// The exit status once the process has ended (reaping it), else nil.
    func exitStatus() -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return status }
        return result == 0 ? nil : -1
    }
}

/// Splits the bytes a server writes into lines (one JSON-RPC message each).
final class LineSplitter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let maximum: Int
    let onLine: ([UInt8]) -> Void
    private var buffer: [UInt8] = []

    init(maximum: Int, onLine: @escaping ([UInt8]) -> Void) {
        self.maximum = maximum
        self.onLine = onLine
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        bytes.withUnsafeReadableBytes { raw in
            var start = raw.startIndex
            for index in raw.indices where raw[index] == UInt8(ascii: "\n") {
                buffer.append(contentsOf: raw[start..<index])
                if !buffer.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { onLine(buffer) }
                buffer.removeAll(keepingCapacity: true)
                start = index + 1
            }
            buffer.append(contentsOf: raw[start..<raw.endIndex])
        }
        if buffer.count > maximum {
            // A server that writes without end is cut off (and restarted).
            context.close(promise: nil)
        }
    }
}
