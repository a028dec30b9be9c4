import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Random 64-bit words for identifiers (request ids, trace and span ids), read from the
/// kernel's generator 512 bytes at a time.
///
/// `SystemRandomNumberGenerator` makes one `getrandom` system call per word: two for a request
/// id, three for a trace's first span and one for each further span, about six a traced
/// request. Reading `/dev/urandom` (the same generator) in blocks makes that one call per
/// dozens of requests. The identifiers stay unique and unpredictable; they are not secrets
/// (every client sees its request id), and nothing cryptographic draws from here. Where the
/// device cannot be read, each word comes from `SystemRandomNumberGenerator` as before.
public enum IdentifierRandomness {
    private struct Pool {
        var words = [UInt64](repeating: 0, count: 64)
        var next = 64
        /// -2: not opened yet; -1: unavailable.
        var descriptor: Int32 = -2
    }

    private static let pool = Mutex(Pool())

    public static func next() -> UInt64 {
        let drawn: UInt64? = pool.withLock { pool in
            if pool.next == pool.words.count {
                guard refill(&pool) else { return nil }
            }
            defer { pool.next += 1 }
            return pool.words[pool.next]
        }
        if let drawn { return drawn }
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }

    private static func refill(_ pool: inout Pool) -> Bool {
        if pool.descriptor == -2 { pool.descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC) }
        let descriptor = pool.descriptor
        guard descriptor >= 0 else { return false }
        let wanted = pool.words.count * 8
        let count = pool.words.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, wanted) }
        guard count == wanted else { return false }
        pool.next = 0
        return true
    }
}
