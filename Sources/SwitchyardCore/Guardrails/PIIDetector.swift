#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Personal data and credentials, found by hand-written scanners (no regex engine on the
/// request path) with checksums where the format has one (Luhn, IBAN mod 97) and context
/// keywords where the format alone would be ambiguous (dates of birth, passports, licences).
public struct PIIDetector: TextDetector {
    public enum Entity: String, Sendable, CaseIterable {
        case email, phone, creditCard = "credit_card", ssn, iban, ipAddress = "ip_address", dateOfBirth = "date_of_birth"
        case passport, driverLicense = "driver_license", address
        case awsAccessKey = "aws_access_key", awsSecretKey = "aws_secret_key", openAIKey = "openai_key", anthropicKey = "anthropic_key"
        case githubToken = "github_token", slackToken = "slack_token", googleAPIKey = "google_api_key", stripeKey = "stripe_key"
        case privateKey = "private_key", jwt, connectionString = "connection_string", password

        /// The personal-data entities (`detector: pii`).
        public static let personal: [Entity] = [
            .email, .phone, .creditCard, .ssn, .iban, .ipAddress, .dateOfBirth, .passport, .driverLicense, .address,
        ]
        /// Credentials and secrets (`detector: secrets`).
        public static let secrets: [Entity] = [
            .awsAccessKey, .awsSecretKey, .openAIKey, .anthropicKey, .githubToken, .slackToken, .googleAPIKey, .stripeKey, .privateKey, .jwt,
            .connectionString, .password,
        ]
        /// The placeholder label used when masking or pseudonymizing (`EMAIL`, `CREDIT_CARD`).
        public var label: String { rawValue.uppercased() }

        /// One bit per entity, for the scanner's set of wanted entities (no hashing per lookup).
        var bit: UInt32 {
            switch self {
            case .email: 1 << 0
            case .phone: 1 << 1
            case .creditCard: 1 << 2
            case .ssn: 1 << 3
            case .iban: 1 << 4
            case .ipAddress: 1 << 5
            case .dateOfBirth: 1 << 6
            case .passport: 1 << 7
            case .driverLicense: 1 << 8
            case .address: 1 << 9
            case .awsAccessKey: 1 << 10
            case .awsSecretKey: 1 << 11
            case .openAIKey: 1 << 12
            case .anthropicKey: 1 << 13
            case .githubToken: 1 << 14
            case .slackToken: 1 << 15
            case .googleAPIKey: 1 << 16
            case .stripeKey: 1 << 17
            case .privateKey: 1 << 18
            case .jwt: 1 << 19
            case .connectionString: 1 << 20
            case .password: 1 << 21
            }
        }
    }

    public let entities: Set<Entity>
    /// `entities` as ``Entity/bit``s, worked out once rather than per scanned text.
    let wanted: UInt32

    public init(entities: Set<Entity>) {
        self.entities = entities
        wanted = entities.reduce(0) { $0 | $1.bit }
    }

    public func findings(in text: [UInt8], context: [UInt8]) -> [Finding] {
        let bytes = context.isEmpty ? text : context + text
        // Digits of other scripts (Arabic-Indic, Devanagari, Bengali, ...) and full-width forms
        // (`４１１１ １１１１`, `＋４４`, `ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ`) are read as the ASCII they
        // stand for, so writing a number in them does not hide it; findings keep the original
        // byte ranges.
        if let folded = Self.foldedToASCII(bytes) {
            let base = folded.origin.firstIndex { $0 >= context.count } ?? folded.bytes.count
            var scanner = Scanner(bytes: folded.bytes, base: base, wanted: wanted)
            scanner.run()
            return scanner.found.map {
                let lower = folded.origin[$0.range.lowerBound] - context.count
                let upper = folded.origin[$0.range.upperBound] - context.count
                return Finding(entity: $0.entity.rawValue, range: max(0, lower)..<max(0, upper))
            }
        }
        var scanner = Scanner(bytes: bytes, base: context.count, wanted: wanted)
        scanner.run()
        return scanner.found.map {
            Finding(entity: $0.entity.rawValue, range: ($0.range.lowerBound - context.count)..<($0.range.upperBound - context.count))
        }
    }

    /// The first index whose byte satisfies `byte`, eight bytes at a time: `word` of eight bytes
    /// is non-zero when one of them may (then they are looked at one by one).
    @inline(__always) static func firstIndex(in bytes: [UInt8], where word: (UInt64) -> UInt64, _ byte: (UInt8) -> Bool) -> Int? {
        bytes.withUnsafeBytes { raw in
            var index = 0
            let count = raw.count
            while index + 8 <= count {
                if word(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) != 0 { break }
                index += 8
            }
            while index < count {
                if byte(raw[index]) { return index }
                index += 1
            }
            return nil
        }
    }

    /// `bytes` with every non-ASCII decimal digit and full-width ASCII form replaced by its ASCII
    /// byte, and for each byte of the result (plus one past the end) the offset in `bytes` it
    /// came from; nil when there is nothing to fold (the common case costs one pass over the
    /// bytes looking for a byte above 0x7F).
    static func foldedToASCII(_ bytes: [UInt8]) -> (bytes: [UInt8], origin: [Int])? {
        guard let firstHigh = firstIndex(in: bytes, where: { $0 & 0x8080_8080_8080_8080 }, { $0 >= 0x80 }) else { return nil }
        var output: [UInt8] = []
        var origin: [Int] = []
        var changed = false
        var index = firstHigh
        var copiedUpTo = 0
        func copy(upTo end: Int) {
            if copiedUpTo < end {
                output.append(contentsOf: bytes[copiedUpTo..<end])
                origin.append(contentsOf: copiedUpTo..<end)
            }
        }
        while index < bytes.count {
            let lead = bytes[index]
            guard lead >= 0xC0 else {
                index += 1
                continue
            }
            let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            guard index + length <= bytes.count else { break }
            var value = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
            var valid = true
            for offset in 1..<length {
                let continuation = bytes[index + offset]
                if continuation & 0xC0 != 0x80 { valid = false }
                value = value << 6 | UInt32(continuation & 0x3F)
            }
            guard valid, let scalar = Unicode.Scalar(value) else {
                index += 1
                continue
            }
            var ascii: UInt8?
            if (0xFF01...0xFF5E).contains(value) {
                ascii = UInt8(value - 0xFEE0)
            } else if scalar.properties.numericType == .decimal, let digit = scalar.properties.numericValue, (0...9).contains(digit) {
                ascii = UInt8(ascii: "0") + UInt8(digit)
            }
            if let ascii {
                if !changed {
                    output.reserveCapacity(bytes.count)
                    origin.reserveCapacity(bytes.count + 1)
                    changed = true
                }
                copy(upTo: index)
                output.append(ascii)
                origin.append(index)
                copiedUpTo = index + length
            }
            index += length
        }
        guard changed else { return nil }
        copy(upTo: bytes.count)
        origin.append(bytes.count)
        return (output, origin)
    }

    struct Scanner {
        let bytes: [UInt8]
        let base: Int
        let wanted: UInt32
        /// The start tables, loaded once per scan rather than once per lookup of a `static let`.
        let tables = Tables.shared
        var found: [(entity: Entity, range: Range<Int>)] = []
        /// Everything before this offset is covered by a finding.
        var covered = 0

        let wantsAWSSecret: Bool
        let wantsAddress: Bool
        let wantsDateOfBirth: Bool
        let wantsPassport: Bool
        let wantsLicence: Bool
        /// Whether any personal (number-shaped) entity is wanted: the secrets detector skips the
        /// number scanners and their context lookups entirely.
        let wantsNumbers: Bool
        /// No numbers, no addresses and no AWS secret key to look for: only letters start a
        /// match (see ``run()``). A variable so that a test can scan without the shortcut.
        var lettersOnly: Bool
        /// Where the text's line feeds are, in order (``columnName(at:)`` looks up the line of
        /// each candidate number: with the positions at hand that is a binary search, where
        /// walking to the line's start was up to 512 bytes per number in a one-line JSON body).
        let newlines: [Int]

        init(bytes: [UInt8], base: Int, wanted: UInt32) {
            self.bytes = bytes
            newlines = bytes.withUnsafeBufferPointer { buffer -> [Int] in
                var positions: [Int] = []
                guard let start = buffer.baseAddress else { return positions }
                let base = UnsafeRawPointer(start)
                var offset = 0
                let count = buffer.count
                while offset < count, let found = memchr(base + offset, 0x0A, count - offset) {
                    let position = UnsafeRawPointer(found) - base
                    positions.append(position)
                    offset = position + 1
                }
                return positions
            }
            self.base = base
            self.wanted = wanted
            // An AWS secret key is a run of 40 letters, digits, `/` and `+`: without one the text
            // has none, and the scanner does not look for one at every word.
            wantsAWSSecret = wanted & Entity.awsSecretKey.bit != 0 && Self.hasRun(of: 40, in: bytes)
            wantsAddress = wanted & Entity.address.bit != 0
            wantsDateOfBirth = wanted & Entity.dateOfBirth.bit != 0
            wantsPassport = wanted & Entity.passport.bit != 0
            wantsLicence = wanted & Entity.driverLicense.bit != 0
            let numbers: [Entity] = [.phone, .ssn, .creditCard, .ipAddress, .dateOfBirth, .address, .iban]
            wantsNumbers = wanted & numbers.reduce(0) { $0 | $1.bit } != 0
            lettersOnly = !wantsNumbers && !wantsAddress && !wantsAWSSecret
        }

        /// Whether `bytes` has `length` letters, digits, `/` or `+` in a row.
        ///
        /// A run of `length` covers one of every `length` positions, so only those are probed:
        /// a probe outside the alphabet rules out every run through it, and the next probe is
        /// `length` further on; a probe inside it is widened both ways to its run, and the next
        /// probe lies `length` past the byte that ended the run. Prose (words far shorter than
        /// 40 bytes) is read about a tenth of a byte at a time, not every byte.
        static func hasRun(of length: Int, in bytes: [UInt8]) -> Bool {
            guard length > 0 else { return true }
            return runMasks.withUnsafeBufferPointer { masks in
                bytes.withUnsafeBufferPointer { bytes in
                    let count = bytes.count
                    var probe = length - 1
                    // Bytes before `floor` are known not to start a run reaching the probe.
                    var floor = 0
                    while probe < count {
                        guard masks[Int(bytes[probe])] != 0 else {
                            floor = probe + 1
                            probe += length
                            continue
                        }
                        var start = probe
                        while start > floor, masks[Int(bytes[start - 1])] != 0 { start -= 1 }
                        var end = probe + 1
                        while end < count, end - start < length, masks[Int(bytes[end])] != 0 { end += 1 }
                        if end - start >= length { return true }
                        // `end` is outside the alphabet (or the text's end).
                        floor = end + 1
                        probe = end + length
                    }
                    return false
                }
            }
        }
        /// All ones for the bytes of an AWS secret key's run (letters, digits, `/`, `+`), else 0.
        static let runMasks: [Int] = (0..<256).map { value in
            let byte = UInt8(value)
            return B.alnum(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "+") ? -1 : 0
        }

        static func table(_ characters: String) -> [Bool] {
            var table = [Bool](repeating: false, count: 256)
            for byte in characters.utf8 { table[Int(byte)] = true }
            return table
        }
        /// Words by their first byte (lowercased), so a position is compared with few of them.
        static func buckets(_ words: [String]) -> [[String]] {
            var buckets = [[String]](repeating: [], count: 256)
            for word in words { buckets[Int(B.lowercased(word.utf8.first!))].append(word) }
            return buckets
        }
        static let monthBuckets = buckets(months)
        static let passportBuckets = buckets(passportKeywords)
        static let licenceBuckets = buckets(licenceKeywords)
        static let schemeBuckets = buckets(connectionSchemes)
        static let frenchBuckets = buckets(frenchStreetTypes)
        static let secretStarts = table("Asrgxe")
        static let schemeStarts = table("pmrajcs")
        static let keywordStarts = table("jfmasondprlf")
        static let frenchStarts = table("rabciq")
        static let militaryStarts = table("AFDPU")
        /// Bytes that can start a match: letters, digits and `-/+(:`.
        static let starts = table("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/+(:")

        /// The first two bytes of `words` (ASCII-lowercased when `folding`), one bit per pair: a
        /// position whose pair is not set starts none of them, and is passed over without
        /// comparing each.
        static func pairs(_ words: [String], folding: Bool) -> [UInt64] {
            var bits = [UInt64](repeating: 0, count: 1024)
            for word in words {
                let bytes = Array(word.utf8)
                let key = folding ? Int(B.lowercased(bytes[0])) << 8 | Int(B.lowercased(bytes[1])) : Int(bytes[0]) << 8 | Int(bytes[1])
                bits[key >> 6] |= 1 << UInt64(key & 63)
            }
            return bits
        }
        static let keywordPairs = pairs(months + passportKeywords + licenceKeywords, folding: true)
        /// The first three bytes (lowercased) of the month, passport and licence keywords, hashed
        /// to one of 4096 bits: after `keywordPairs`, most words that share two bytes with a
        /// keyword ("pair", "page", "make", "now") are passed over here.
        static let keywordTriples: [UInt64] = {
            var bits = [UInt64](repeating: 0, count: 64)
            for word in months + passportKeywords + licenceKeywords {
                let bytes = Array(word.utf8)
                let key = triple(bytes[0], bytes[1], bytes[2])
                bits[key >> 6] |= 1 << UInt64(key & 63)
            }
            return bits
        }()
        @inline(__always) static func triple(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int {
            (Int(B.lowercased(a)) &* 961 &+ Int(B.lowercased(b)) &* 31 &+ Int(B.lowercased(c))) & 4095
        }
        static let schemePairs = pairs(connectionSchemes, folding: true)
        static let secretPairs = pairs(awsPrefixes + ["AIza", "sk-ant-", "sk-"] + stripePrefixes + githubPrefixes + ["github_pat_", "xox", "xapp-", "eyJ"], folding: false)
        static let frenchPairs = pairs(frenchStreetTypes, folding: false)
        static let militaryPairs = pairs(militaryPrefixes + boxPrefixes, folding: false)

        final class Tables: Sendable {
            static let shared = Tables()
            let starts = Scanner.starts
            /// Per letter, which scanners it can start (one load for all of them): the secret,
            /// French-street and military tables by the byte as it is, the scheme and keyword
            /// tables by its lowercase.
            let letterStarts: [UInt8] = (0..<256).map { value in
                let lower = Int(B.lowercased(UInt8(value)))
                var starts: UInt8 = 0
                if Scanner.secretStarts[value] { starts |= Tables.secret }
                if Scanner.schemeStarts[lower] { starts |= Tables.scheme }
                if Scanner.keywordStarts[lower] { starts |= Tables.keyword }
                if Scanner.frenchStarts[value] { starts |= Tables.french }
                if Scanner.militaryStarts[value] { starts |= Tables.military }
                return starts
            }
            static let secret: UInt8 = 1
            static let scheme: UInt8 = 2
            static let keyword: UInt8 = 4
            static let french: UInt8 = 8
            static let military: UInt8 = 16
            let wordBytes = ByteClass.wordTable
            /// The bytes of a German or French street's words: letters, bytes from 0x80, `-`, `.`.
            let streetBytes: [Bool] = (0..<256).map { value in
                let byte = UInt8(value)
                return B.alpha(byte) || byte >= 0x80 || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
            let keywordTriples = Scanner.keywordTriples
            /// Per pair of bytes (the first in the high byte), which scanners' prefix filters
            /// (``pairs(_:folding:)``) it passes, in the bits `letterStarts` uses: one load where
            /// each filter was a lookup of its own (folding the case of both bytes for some).
            let pairMasks: [UInt8] = (0..<65536).map { key in
                let first = UInt8(key >> 8)
                let second = UInt8(key & 0xFF)
                func has(_ table: [UInt64], folding: Bool) -> Bool {
                    let pair = folding ? Int(B.lowercased(first)) << 8 | Int(B.lowercased(second)) : key
                    return table[pair >> 6] >> UInt64(pair & 63) & 1 != 0
                }
                var mask: UInt8 = 0
                if has(Scanner.secretPairs, folding: false) { mask |= Tables.secret }
                if has(Scanner.schemePairs, folding: true) { mask |= Tables.scheme }
                if has(Scanner.keywordPairs, folding: true) { mask |= Tables.keyword }
                if has(Scanner.frenchPairs, folding: false) { mask |= Tables.french }
                if has(Scanner.militaryPairs, folding: false) { mask |= Tables.military }
                return mask
            }
        }

        /// Whether the three bytes at `index` may start a keyword (``keywordTriples``); every
        /// keyword has three bytes at least.
        @inline(__always) func keywordTriple(at index: Int) -> Bool {
            guard index + 2 < bytes.count else { return false }
            let key = Self.triple(bytes[index], bytes[index + 1], bytes[index + 2])
            return tables.keywordTriples[key >> 6] >> UInt64(key & 63) & 1 != 0
        }

        typealias B = ByteClass

        mutating func add(_ entity: Entity, _ range: Range<Int>) {
            guard wanted & entity.bit != 0, range.upperBound > base, !range.isEmpty else { return }
            found.append((entity, max(range.lowerBound, base)..<range.upperBound))
            covered = max(covered, range.upperBound)
        }

        func at(_ index: Int) -> UInt8 { index >= 0 && index < bytes.count ? bytes[index] : 0 }

        /// Start of a token: the previous byte is not part of a word.
        func wordStart(_ index: Int) -> Bool { index == 0 || !B.word(bytes[index - 1]) }
        func wordEnd(_ index: Int) -> Bool { index >= bytes.count || !B.word(bytes[index]) }

        mutating func run() {
            var index = max(0, base - 64)
            let count = bytes.count
            let bytes = self.bytes
            let starts = tables.starts
            let wordBytes = tables.wordBytes
            bytes.withUnsafeBufferPointer { bytes in
                starts.withUnsafeBufferPointer { starts in
                    wordBytes.withUnsafeBufferPointer { wordBytes in
                        while index < count {
                            if index < covered {
                                index = covered
                                continue
                            }
                            let byte = bytes[index]
                            // Only letters, digits and `-/+(:` start a match (see `scan`); inside a
                            // word, only `-+(:`, none of them a word byte: the rest of a word is
                            // passed over.
                            guard starts[Int(byte)] else {
                                index += 1
                                continue
                            }
                            let word = wordBytes[Int(byte)]
                            if index > 0, word, wordBytes[Int(bytes[index - 1])] {
                                index += 1
                                while index < count, wordBytes[Int(bytes[index])] { index += 1 }
                                continue
                            }
                            // A lowercase word start whose letter and pair start no scanner (the
                            // prefix filters of ``scan(at:_:)``'s letter scanners all fail) finds
                            // nothing there, unless it may start an AWS secret key or, as a hex
                            // digit, an IPv6 address: most words of prose are passed over here
                            // without the call.
                            if byte &- UInt8(ascii: "a") < 26, !wantsAWSSecret,
                                !(wantsNumbers && byte <= UInt8(ascii: "f") && Self.hexGroupColon(bytes, index)),
                                tables.letterStarts[Int(byte)] & (index + 1 < count ? tables.pairMasks[Int(byte) << 8 | Int(bytes[index + 1])] : 0) == 0
                            {
                                index += 1
                                while index < count, wordBytes[Int(bytes[index])] { index += 1 }
                                continue
                            }
                            // For a detector that wants no numbers, no addresses and no AWS secret key
                            // here (the secrets detector), a word that starts with a digit finds
                            // nothing, and one that starts with a capital only what its letter and
                            // pair start, or an IBAN's shape (scanned even when not wanted: the
                            // span it takes is passed over).
                            if lettersOnly,
                                B.digit(byte)
                                    || (B.upper(byte)
                                        && tables.letterStarts[Int(byte)]
                                            & (index + 1 < count ? tables.pairMasks[Int(byte) << 8 | Int(bytes[index + 1])] : 0) == 0
                                        && !(index + 3 < count && B.upper(bytes[index + 1]) && B.digit(bytes[index + 2])
                                            && B.digit(bytes[index + 3])))
                            {
                                index += 1
                                while index < count, wordBytes[Int(bytes[index])] { index += 1 }
                                continue
                            }
                            if let end = scan(at: index, byte) {
                                index = max(end, index + 1)
                            } else if word {
                                index += 1
                                while index < count, wordBytes[Int(bytes[index])] { index += 1 }
                            } else {
                                index += 1
                            }
                        }
                    }
                }
            }
            if wanted & Entity.email.bit != 0 { scanEmails() }
            if wanted & Entity.password.bit != 0 { scanPasswords() }
            found.sort { $0.range.lowerBound < $1.range.lowerBound }
            // Overlaps (an e-mail inside a connection string): keep the first, longest.
            var kept: [(entity: Entity, range: Range<Int>)] = []
            for item in found {
                if let last = kept.last, item.range.lowerBound < last.range.upperBound {
                    if item.range.upperBound > last.range.upperBound && item.range.count > last.range.count { kept[kept.count - 1] = item }
                    continue
                }
                kept.append(item)
            }
            found = kept
        }

        /// Tries every scanner that can start with `byte`; returns the end of a match.
        mutating func scan(at index: Int, _ byte: UInt8) -> Int? {
            if byte == UInt8(ascii: "-"), let end = privateKey(at: index) { return end }
            guard wordStart(index) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "(") || byte == UInt8(ascii: ":") else { return nil }
            // AWS secret keys may start with a digit, `/` or `+`.
            if wantsAWSSecret, B.digit(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "+"), let end = awsSecret(at: index) {
                return end
            }
            if B.alpha(byte) {
                // Each scanner only where its first letter can start a match.
                // Where no prefix of a scanner starts (``pairs(_:folding:)``), the scanner would
                // find nothing: `secret` is then `awsSecret` alone.
                // The scanners this letter can start (`starts`), the scanners whose two-byte
                // prefix filter the pair here passes (`pairs`, ``Tables/pairMasks``; none at the
                // text's last byte), and those that pass both.
                let starts = tables.letterStarts[Int(byte)]
                let pairs = index + 1 < bytes.count ? tables.pairMasks[Int(byte) << 8 | Int(bytes[index + 1])] : 0
                let both = starts & pairs
                if starts & Tables.secret != 0 || wantsAWSSecret {
                    if pairs & Tables.secret != 0 {
                        if let end = secret(at: index) { return end }
                    } else if let end = awsSecret(at: index) {
                        return end
                    }
                }
                if both & Tables.scheme != 0, let end = connectionString(at: index) { return end }
                if B.upper(byte), let end = iban(at: index) { return end }
                if both & Tables.keyword != 0, keywordTriple(at: index), let end = keywordEntity(at: index) { return end }
                if wantsAddress {
                    if B.upper(byte), let end = germanOrFrenchStreet(at: index) { return end }
                    if both & Tables.french != 0, let end = frenchStreetName(at: index) { return end }
                    if both & Tables.military != 0, let end = militaryAddress(at: index) { return end }
                }
            }
            // A digit right after `1-`, `2.` or `3/` continues another number (ISBNs, ranges).
            if B.digit(byte), index >= 2,
                bytes[index - 1] == UInt8(ascii: "-") || bytes[index - 1] == UInt8(ascii: ".") || bytes[index - 1] == UInt8(ascii: "/"),
                B.digit(bytes[index - 2])
            {
                return nil
            }
            guard wantsNumbers else { return nil }
            if B.digit(byte) {
                if let end = ipv4(at: index) { return end }
                if wantsDateOfBirth, let end = dateOfBirth(at: index) { return end }
                if let end = ssn(at: index) { return end }
                if let end = card(at: index) { return end }
                if let end = streetAddress(at: index) { return end }
            }
            if B.hex(byte) || byte == UInt8(ascii: ":"), bytes.withUnsafeBufferPointer({ Self.hexGroupColon($0, index) }),
                let end = ipv6(at: index)
            {
                return end
            }
            if B.digit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "("), let end = phone(at: index) { return end }
            return nil
        }

        // MARK: passwords

        /// Passwords given as settings: `password=…`, `Pwd=…;` (ADO.NET and ODBC connection
        /// strings, JDBC and URL parameters, `.env` files: `DB_PASSWORD=…`), `"password": "…"`
        /// (JSON) and `password: …` ending its line (YAML, INI). The key is a name that ends in
        /// `password`, `passwd` or `pwd` (`db.password`, `MYSQL_ROOT_PASSWORD`), or `pass` after
        /// `_`, `.` or `-`; the value (what is masked) has three bytes or more and is no
        /// placeholder (`<…>`, `${…}`, `%(…)s`, `***`, `xxx`, `null`, `required`). After a colon
        /// a bare value must end its line, so that prose (`Password: must be 8 characters`) is
        /// not read as one.
        mutating func scanPasswords() {
            // The next `=` or `:` is found eight bytes at a time; most texts have few of either,
            // and a JSON body's colons are passed over after two bytes of their key.
            var index = 0
            while true {
                index = bytes.withUnsafeBufferPointer { ByteScan.first(UInt8(ascii: "="), UInt8(ascii: ":"), in: $0, from: index) }
                guard index < bytes.count else { return }
                if let value = passwordValue(at: index, colon: bytes[index] == UInt8(ascii: ":")) {
                    if !found.contains(where: { $0.range.overlaps(value) }) { add(.password, value) }
                    index = max(index + 1, value.upperBound)
                } else {
                    index += 1
                }
            }
        }

        /// The value assigned at the `=` or `:` at `index` when its key names a password.
        func passwordValue(at index: Int, colon: Bool) -> Range<Int>? {
            // The key: up to two spaces and a closing quote before the sign.
            var keyEnd = index
            while keyEnd > 0, index - keyEnd < 2, bytes[keyEnd - 1] == UInt8(ascii: " ") { keyEnd -= 1 }
            let quotedKey = keyEnd > 0 && (bytes[keyEnd - 1] == UInt8(ascii: "\"") || bytes[keyEnd - 1] == UInt8(ascii: "'"))
            if quotedKey { keyEnd -= 1 }
            // Every key it takes ends in `rd` (`password`), `wd` (`passwd`, `pwd`) or `ss` (`pass`):
            // most signs (every other member of a JSON object) end here.
            guard keyEnd >= 3 else { return nil }
            let last = B.lowercased(bytes[keyEnd - 1])
            let before = B.lowercased(bytes[keyEnd - 2])
            guard
                last == UInt8(ascii: "d") && (before == UInt8(ascii: "r") || before == UInt8(ascii: "w"))
                    || last == UInt8(ascii: "s") && before == UInt8(ascii: "s")
            else { return nil }
            var keyStart = keyEnd
            while keyStart > 0, keyEnd - keyStart < 64, Self.keyByte(bytes[keyStart - 1]) { keyStart -= 1 }
            guard keyEnd - keyStart >= 3, !Self.keyByte(at(keyStart - 1)) || keyStart == 0 else { return nil }
            // The key's last bytes, lowercased, compared where they stand.
            func ends(_ suffix: StaticString) -> Bool {
                let length = suffix.utf8CodeUnitCount
                guard keyEnd - keyStart >= length else { return false }
                return suffix.withUTF8Buffer { suffix in
                    for offset in 0..<length where B.lowercased(bytes[keyEnd - length + offset]) != suffix[offset] { return false }
                    return true
                }
            }
            let named =
                ends("password") || ends("passwd") || ends("pwd")
                || (ends("pass")
                    && (keyEnd - keyStart == 4 || [UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-")].contains(bytes[keyEnd - 5])))
            guard named else { return nil }
            // The value: quoted, or a run of bytes up to a separator.
            var start = index + 1
            while start < bytes.count, start - index <= 3, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
            guard start < bytes.count else { return nil }
            var end: Int
            let open = bytes[start]
            if open == UInt8(ascii: "\"") || open == UInt8(ascii: "'") {
                start += 1
                end = start
                while end < bytes.count, bytes[end] != open, bytes[end] != 0x0A, end - start <= 256 { end += 1 }
                guard at(end) == open else { return nil }
            } else {
                // `&` separates a URL's parameters only (an ADO.NET password may hold one).
                let parameter = at(keyStart - 1) == UInt8(ascii: "?") || at(keyStart - 1) == UInt8(ascii: "&")
                end = start
                while end < bytes.count, !Self.valueStop(bytes[end]), !(parameter && bytes[end] == UInt8(ascii: "&")), end - start <= 256 { end += 1 }
                // After a colon, a bare value is the rest of its line (a setting, not a sentence).
                if colon {
                    var rest = end
                    while rest < bytes.count, bytes[rest] == UInt8(ascii: " ") || bytes[rest] == UInt8(ascii: "\t") { rest += 1 }
                    guard rest == bytes.count || bytes[rest] == 0x0A || bytes[rest] == 0x0D || bytes[rest] == UInt8(ascii: ";") else { return nil }
                }
            }
            guard end - start >= 3, end - start <= 256, !Self.placeholder(bytes[start..<end]) else { return nil }
            return start..<end
        }

        static func keyByte(_ byte: UInt8) -> Bool {
            B.alnum(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }

        /// Bytes that end a bare value: white space, quotes, `;` and `,`, closing brackets.
        static func valueStop(_ byte: UInt8) -> Bool {
            byte <= 0x20 || byte == UInt8(ascii: ";") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"")
                || byte == UInt8(ascii: "'") || byte == UInt8(ascii: "`") || byte == UInt8(ascii: ")") || byte == UInt8(ascii: "]")
                || byte == UInt8(ascii: "}") || byte == UInt8(ascii: ">")
        }

        /// A value that stands for a password rather than being one.
        static func placeholder(_ value: ArraySlice<UInt8>) -> Bool {
            guard let first = value.first else { return true }
            if [UInt8(ascii: "<"), UInt8(ascii: "$"), UInt8(ascii: "{"), UInt8(ascii: "%"), UInt8(ascii: "["), UInt8(ascii: "(")].contains(first) {
                return true
            }
            let lower = value.map(B.lowercased)
            if lower.allSatisfy({ $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: ".") }) {
                return true
            }
            return placeholders.contains(lower)
        }

        static let placeholders: Set<[UInt8]> = Set(
            ["null", "none", "nil", "true", "false", "required", "optional", "string", "redacted", "hidden", "masked", "undefined", "empty"].map {
                Array($0.utf8)
            })

        // MARK: e-mail

        mutating func scanEmails() {
            // Most texts have no `@`: each next `@` (or `%`: in a URL's query an address's `@` is
            // written `%40`, `email=jo%40example.com`) is found eight bytes at a time.
            var index = 0
            while true {
                index = bytes.withUnsafeBufferPointer { ByteScan.first(UInt8(ascii: "@"), UInt8(ascii: "%"), in: $0, from: index) }
                guard index < bytes.count else { return }
                // The separator and its length: `@`, or `%40`.
                let separator: Int
                if bytes[index] == UInt8(ascii: "@") {
                    separator = 1
                } else if at(index + 1) == UInt8(ascii: "4"), at(index + 2) == UInt8(ascii: "0") {
                    separator = 3
                } else {
                    index += 1
                    continue
                }
                var start = index
                // An apostrophe between letters belongs to the address (`jo.o'neil@`).
                while start > 0,
                    Self.localPart(bytes[start - 1])
                        || (bytes[start - 1] == UInt8(ascii: "'") && start >= 2 && B.alnum(bytes[start - 2]) && start < index
                            && B.alnum(bytes[start]))
                {
                    start -= 1
                }
                if separator == 3 {
                    // Percent-encoded text: the address starts after the last encoded byte that no
                    // address holds (`%20`, `%3D`, …; `+ . _ -` encoded are kept).
                    var position = start
                    while position + 2 < index {
                        guard bytes[position] == UInt8(ascii: "%"), B.hex(bytes[position + 1]), B.hex(bytes[position + 2]) else {
                            position += 1
                            continue
                        }
                        let code = TextNormalizer.hexValue(bytes[position + 1]) << 4 | TextNormalizer.hexValue(bytes[position + 2])
                        if ![UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-")].contains(code) { start = position + 3 }
                        position += 3
                    }
                }
                while start < index, bytes[start] == UInt8(ascii: ".") { start += 1 }
                var end = index + separator
                var labels = 0
                var lastLabelAlpha = 0
                var lastLabelStart = end
                while true {
                    let labelStart = end
                    while end < bytes.count, B.alnum(bytes[end]) || bytes[end] == UInt8(ascii: "-") { end += 1 }
                    guard end > labelStart else { break }
                    labels += 1
                    lastLabelStart = labelStart
                    lastLabelAlpha = (labelStart..<end).allSatisfy { B.alpha(bytes[$0]) } ? end - labelStart : 0
                    if end + 1 < bytes.count, bytes[end] == UInt8(ascii: "."), B.alnum(bytes[end + 1]) {
                        end += 1
                    } else {
                        break
                    }
                }
                _ = lastLabelStart
                if start < index, labels >= 2, lastLabelAlpha >= 2 {
                    let range = start..<end
                    if !found.contains(where: { $0.range.overlaps(range) }) { add(.email, range) }
                }
                index = max(end, index + 1)
            }
        }

        static func localPart(_ b: UInt8) -> Bool {
            B.alnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "%") || b == UInt8(ascii: "+")
                || b == UInt8(ascii: "-")
        }

        // MARK: credentials

        static let awsPrefixes = ["AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA"]

        func run(from index: Int, _ allowed: (UInt8) -> Bool) -> Int {
            var end = index
            while end < bytes.count, allowed(bytes[end]) { end += 1 }
            return end
        }

        static func tokenByte(_ b: UInt8) -> Bool { B.alnum(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") }

        mutating func secret(at index: Int) -> Int? {
            let byte = bytes[index]
            if byte == UInt8(ascii: "A") {
                if Self.awsPrefixes.contains(where: { B.matchesExactly(bytes, at: index, $0) }) {
                    let end = run(from: index + 4) { B.upper($0) || B.digit($0) }
                    if end - index == 20, wordEnd(end) {
                        add(.awsAccessKey, index..<end)
                        return end
                    }
                }
                if B.matchesExactly(bytes, at: index, "AIza") {
                    let end = run(from: index + 4, Self.tokenByte)
                    if end - index == 39 {
                        add(.googleAPIKey, index..<end)
                        return end
                    }
                }
            }
            if byte == UInt8(ascii: "s") || byte == UInt8(ascii: "r") {
                if B.matchesExactly(bytes, at: index, "sk-ant-") {
                    let end = run(from: index + 7, Self.tokenByte)
                    if end - index >= 27 {
                        add(.anthropicKey, index..<end)
                        return end
                    }
                } else if B.matchesExactly(bytes, at: index, "sk-") {
                    let end = run(from: index + 3, Self.tokenByte)
                    let body = bytes[(index + 3)..<end]
                    if end - index >= 23, body.contains(where: B.digit), body.contains(where: B.alpha) {
                        add(.openAIKey, index..<end)
                        return end
                    }
                }
                for prefix in Self.stripePrefixes where B.matchesExactly(bytes, at: index, prefix) {
                    let end = run(from: index + 8, B.alnum)
                    if end - index >= 24 {
                        add(.stripeKey, index..<end)
                        return end
                    }
                }
            }
            if byte == UInt8(ascii: "g") {
                for prefix in Self.githubPrefixes where B.matchesExactly(bytes, at: index, prefix) {
                    let end = run(from: index + 4, B.alnum)
                    if end - index >= 40 {
                        add(.githubToken, index..<end)
                        return end
                    }
                }
                if B.matchesExactly(bytes, at: index, "github_pat_") {
                    let end = run(from: index + 11) { B.alnum($0) || $0 == UInt8(ascii: "_") }
                    if end - index >= 40 {
                        add(.githubToken, index..<end)
                        return end
                    }
                }
            }
            if byte == UInt8(ascii: "x"),
                B.matchesExactly(bytes, at: index, "xox") || B.matchesExactly(bytes, at: index, "xapp-")
            {
                let kind = at(index + 3)
                if B.matchesExactly(bytes, at: index, "xapp-") || ("abposr".utf8.contains(kind) && at(index + 4) == UInt8(ascii: "-")) {
                    let end = run(from: index + 4) { B.alnum($0) || $0 == UInt8(ascii: "-") }
                    if end - index >= 20 {
                        add(.slackToken, index..<end)
                        return end
                    }
                }
            }
            if byte == UInt8(ascii: "e"), B.matchesExactly(bytes, at: index, "eyJ") {
                let first = run(from: index, Self.tokenByte)
                if first - index >= 10, at(first) == UInt8(ascii: ".") {
                    let second = run(from: first + 1, Self.tokenByte)
                    if second - first - 1 >= 10, at(second) == UInt8(ascii: ".") {
                        let third = run(from: second + 1, Self.tokenByte)
                        add(.jwt, index..<third)
                        return third
                    }
                }
            }
            return awsSecret(at: index)
        }

        /// A 40-character AWS secret access key (base64 alphabet, mixed case) with context.
        mutating func awsSecret(at index: Int) -> Int? {
            let byte = bytes[index]
            if wantsAWSSecret, B.alnum(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "+") {
                // The key is a run of exactly 40: read no further than 41.
                guard index + 40 <= bytes.count else { return nil }
                let limit = min(bytes.count, index + 41)
                var end = index
                while end < limit {
                    let byte = bytes[end]
                    guard B.alnum(byte) || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "+") else { break }
                    end += 1
                }
                if end - index == 40, wordEnd(end), wordStart(index) || at(index - 1) == UInt8(ascii: "="),
                    bytes[index..<end].contains(where: B.lower), bytes[index..<end].contains(where: B.upper),
                    bytes[index..<end].contains(where: { B.digit($0) || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "+") }),
                    awsSecretContext(index)
                {
                    add(.awsSecretKey, index..<end)
                    return end
                }
            }
            return nil
        }

        static let awsSecretLabels = ["secret", "aws_secret", "secret_access_key", "access_key", "accesskey", "access key", "aws"]
        static let awsSecretKeywords = Labels(["secret", "aws_secret", "secret_access_key"])

        /// What a person would take as saying "this is an AWS secret key": a keyword earlier on
        /// the same line (a JSON field, `KEY = value`, prose), or the name of its table column.
        func awsSecretContext(_ index: Int) -> Bool {
            var lineStart = index
            while lineStart > 0, index - lineStart < 160, bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
            if Self.awsSecretLabels.contains(where: { ByteClass.contains(bytes, lineStart..<index, $0) }) { return true }
            if keywordBefore(index, Self.awsSecretKeywords, within: 48) { return true }
            guard let column = columnName(at: index) else { return false }
            return column.contains("secret") || column.contains("access_key") || column.contains("accesskey") || column.contains("aws")
        }

        static let stripePrefixes = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"]
        static let githubPrefixes = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]
        static let unitPrefixes = [" apt. ", " apt ", " suite ", " unit ", " #"]
        static let militaryPrefixes = ["APO ", "FPO ", "DPO "]
        static let boxPrefixes = ["PSC ", "Unit ", "PO Box ", "P.O. Box "]
        static let beginKey = "-----BEGIN "
        static let keyMarker = "PRIVATE KEY-----"
        static let endKey = "-----END "

        /// `-----BEGIN ... PRIVATE KEY-----` to its END line, or to the end of the text.
        mutating func privateKey(at index: Int) -> Int? {
            guard B.matchesExactly(bytes, at: index, Self.beginKey) else { return nil }
            var cursor = index + Self.beginKey.count
            let limit = min(bytes.count, cursor + 40)
            while cursor < limit, !B.matchesExactly(bytes, at: cursor, Self.keyMarker) { cursor += 1 }
            guard cursor < limit else { return nil }
            cursor += Self.keyMarker.count
            var end = bytes.count
            var scan = cursor
            while scan < bytes.count {
                if B.matchesExactly(bytes, at: scan, Self.endKey) {
                    var close = scan + Self.endKey.count
                    while close < bytes.count, close < scan + 60, !B.matchesExactly(bytes, at: close, Self.keyMarker) { close += 1 }
                    end = min(bytes.count, close + Self.keyMarker.count)
                    break
                }
                scan += 1
            }
            add(.privateKey, index..<end)
            return end
        }

        static let connectionSchemes = [
            "postgresql://", "postgres://", "mysql://", "mariadb://", "mongodb+srv://", "mongodb://", "rediss://", "redis://", "amqps://",
            "amqp://", "mssql://", "sqlserver://", "jdbc:postgresql://", "jdbc:mysql://", "clickhouse://", "snowflake://",
        ]

        /// `scheme://user:password@host...`: only URLs that carry a password.
        mutating func connectionString(at index: Int) -> Int? {
            // Every scheme is letters (or `+` and a driver's name) up to a colon: most words end
            // before one.
            let schemeEnd = run(from: index) { B.alnum($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "_") }
            guard at(schemeEnd) == UInt8(ascii: ":") else { return nil }
            var start: Int
            if let scheme = Self.schemeBuckets[Int(B.lowercased(bytes[index]))].first(where: { B.matches(bytes, at: index, $0) }) {
                start = index + scheme.utf8.count
            } else if let plus = bytes[index..<schemeEnd].firstIndex(of: UInt8(ascii: "+")), plus + 1 < schemeEnd,
                B.matches(bytes, at: schemeEnd, "://"),
                Self.schemeBuckets[Int(B.lowercased(bytes[index]))].contains(where: { scheme in
                    scheme.utf8.count == plus - index + 3 && B.matches(bytes, at: index, String(scheme.dropLast(3)))
                })
            {
                // SQLAlchemy's `dialect+driver://` (`postgresql+psycopg2://`, `mssql+pyodbc://`).
                start = schemeEnd + 3
            } else {
                return nil
            }
            let end = run(from: start) { !B.space($0) && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "'") && $0 != UInt8(ascii: "`") }
            guard let at = bytes[start..<end].lastIndex(of: UInt8(ascii: "@")), bytes[start..<at].contains(UInt8(ascii: ":")) else { return nil }
            var trimmed = end
            while trimmed > at, [UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: ")")].contains(bytes[trimmed - 1]) { trimmed -= 1 }
            add(.connectionString, index..<trimmed)
            return trimmed
        }

        // MARK: numbers

        func digits(_ range: Range<Int>) -> [Int] { bytes[range].compactMap { B.digit($0) ? Int($0 - 0x30) : nil } }

        /// A dotted quad. Addresses that name no one's machine (this host `0.0.0.0`, loopback
        /// `127.x`, multicast and reserved from `224.x`) and four-part version numbers
        /// (``readsAsVersion(_:)``) are passed over whole: they are not personal data, and their
        /// digits are no phone either.
        mutating func ipv4(at index: Int) -> Int? {
            var cursor = index
            var first = 0
            for part in 0..<4 {
                let start = cursor
                var value = 0
                while cursor < bytes.count, B.digit(bytes[cursor]), cursor - start < 3 {
                    value = value * 10 + Int(bytes[cursor] - 0x30)
                    cursor += 1
                }
                guard cursor > start, value <= 255, !B.digit(at(cursor)) else { return nil }
                if part == 0 { first = value }
                if part < 3 {
                    guard at(cursor) == UInt8(ascii: ".") else { return nil }
                    cursor += 1
                }
            }
            guard wordEnd(cursor), !(at(cursor) == UInt8(ascii: ".") && B.digit(at(cursor + 1))) else { return nil }
            if first == 0 || first == 127 || first >= 224 || readsAsVersion(index) { return cursor }
            add(.ipAddress, index..<cursor)
            return cursor
        }

        /// Whether the dotted quad at `index` is a version, build or section number: the word
        /// right before it (one to three spaces, `=`, `:` or quotes between) is a version or
        /// numbering word (`version`, `build`, `firmware`, `kernel`, `section`, `clause`, `§`,
        /// …) or a name ending in `version` (`fileVersion`, `app_version`): `Upgrade from version 5.7.2.75`,
        /// `fileVersion="8.0.198.118"`, `Section 3.4.1.9`; but `version 4 runs on 52.14.7.200`.
        func readsAsVersion(_ index: Int) -> Bool {
            var end = index
            while end > 0, index - end < 3, Self.versionSeparator(bytes[end - 1]) { end -= 1 }
            guard end < index else { return false }
            var start = end
            while start > 0, end - start < 24, B.alpha(bytes[start - 1]) || bytes[start - 1] == UInt8(ascii: "_") || bytes[start - 1] >= 0x80 {
                start -= 1
            }
            guard start < end else { return false }
            let word = bytes[start..<end].map(B.lowercased)
            return Self.versionWords.contains(word) || word.count > 7 && word.suffix(7).elementsEqual("version".utf8)
        }

        static func versionSeparator(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "\"")
                || byte == UInt8(ascii: "'")
        }

        static let versionWords: Set<[UInt8]> = Set(
            [
                "version", "versions", "ver", "release", "build", "firmware", "fw", "bootloader", "kernel", "driver", "revision", "rev", "section",
                "chapter", "clause", "article", "paragraph", "appendix", "annex", "sdk", "patch", "§",
            ].map { Array($0.utf8) })

        /// Whether a `:` follows within an IPv6 address's first group (up to four hex digits)
        /// from `index`: every address ``ipv6(at:)`` accepts has one there (its groups before
        /// the last are hex, at most four digits, and it has two colons), so where there is none
        /// it is not called. Most words of prose that start with `a`–`f` end here. One that
        /// starts with a colon starts with `::` (no other group is empty): the colon of every
        /// JSON member ends here.
        @inline(__always) static func hexGroupColon(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> Bool {
            if bytes[index] == UInt8(ascii: ":") { return index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: ":") }
            var position = index
            let limit = min(bytes.count, index + 5)
            while position < limit {
                let byte = bytes[position]
                if byte == UInt8(ascii: ":") { return true }
                guard B.hex(byte) else { return false }
                position += 1
            }
            return false
        }

        mutating func ipv6(at index: Int) -> Int? {
            if index > 0, B.word(bytes[index - 1]) || bytes[index - 1] == UInt8(ascii: ":") { return nil }
            let end = run(from: index) { B.hex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }
            var stop = end
            while stop > index, bytes[stop - 1] == UInt8(ascii: ".") { stop -= 1 }
            guard stop - index >= 3, wordEnd(stop) || !B.alpha(at(stop)) else { return nil }
            var colons = 0
            for position in index..<stop where bytes[position] == UInt8(ascii: ":") { colons += 1 }
            guard colons >= 2, Self.validIPv6(Array(bytes[index..<stop])) else { return nil }
            // The loopback address names no one's machine (nor does `::`, too short to be read).
            if stop - index == 3, bytes[index + 2] == UInt8(ascii: "1") { return stop }
            add(.ipAddress, index..<stop)
            return stop
        }

        static func validIPv6(_ text: [UInt8]) -> Bool {
            let string = String(decoding: text, as: UTF8.self)
            var halves: [String] = []
            if let range = string.firstRange(of: "::") {
                halves = [String(string[..<range.lowerBound]), String(string[range.upperBound...])]
                if halves[1].contains("::") { return false }
            } else {
                halves = [string]
            }
            func groups(_ part: String) -> [Substring]? { part.isEmpty ? [] : part.split(separator: ":", omittingEmptySubsequences: false) }
            guard var left = groups(halves[0]), var right = halves.count == 2 ? groups(halves[1]) : [] else { return false }
            var count = 0
            var all = left + right
            if let last = all.last, last.contains(".") {
                // Embedded IPv4 tail.
                let octets = last.split(separator: ".", omittingEmptySubsequences: false)
                guard octets.count == 4, octets.allSatisfy({ !$0.isEmpty && $0.count <= 3 && Int($0).map { $0 <= 255 } == true }) else {
                    return false
                }
                count += 2
                all.removeLast()
                if !right.isEmpty { right.removeLast() } else { left.removeLast() }
            }
            guard all.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.utf8.allSatisfy(ByteClass.hex) }) else { return false }
            count += all.count
            return halves.count == 2 ? count < 8 && (count > 0) : count == 8
        }

        /// US SSN `AAA-GG-SSSS` (dashes or spaces), with the ranges that are never issued excluded;
        /// nine plain digits only after an SSN keyword.
        mutating func ssn(at index: Int) -> Int? {
            let area = run(from: index, B.digit)
            var groups: [Range<Int>] = [index..<area]
            if area - index == 3, let separator = Optional(at(area)), separator == UInt8(ascii: "-") || separator == UInt8(ascii: " ") {
                let group = run(from: area + 1, B.digit)
                if group - area - 1 == 2, at(group) == separator {
                    let serial = run(from: group + 1, B.digit)
                    if serial - group - 1 == 4, wordEnd(serial) {
                        groups = [index..<area, (area + 1)..<group, (group + 1)..<serial]
                    }
                }
            } else if area - index == 9, wordEnd(area), wordStart(index), ssnLabelled(index) {
                groups = [index..<(index + 3), (index + 3)..<(index + 5), (index + 5)..<(index + 9)]
            }
            guard groups.count == 3 else { return nil }
            // An SSN-shaped product, part or order number (`SKU 023-98-0000`) is not an SSN
            // unless an SSN label is nearer than its own label.
            if labelDistance(index, Self.competingLabelBytes, within: 24) != nil, !ssnLabelled(index) {
                return nil
            }
            let a = Int(String(decoding: bytes[groups[0]], as: UTF8.self)) ?? 0
            let g = Int(String(decoding: bytes[groups[1]], as: UTF8.self)) ?? 0
            let s = Int(String(decoding: bytes[groups[2]], as: UTF8.self)) ?? 0
            guard a != 0, a != 666, a < 900, g != 0, s != 0 else { return nil }
            add(.ssn, index..<groups[2].upperBound)
            return groups[2].upperBound
        }

        /// Payment cards: 12–19 digits, optionally grouped by spaces or dashes, with a known
        /// issuer prefix and a valid Luhn check digit.
        mutating func card(at index: Int) -> Int? {
            var cursor = index
            var end = index
            var separator: UInt8?
            // The digits and the sizes of their groups, kept on the stack: most numbers a text
            // holds are far shorter than a card, and are turned down below without an array.
            var digits = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var sizes = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var count = 0
            var groupCount = 1
            withUnsafeMutableBytes(of: &digits) { digitBytes in
                withUnsafeMutableBytes(of: &sizes) { sizeBytes in
                    let digits = digitBytes.bindMemory(to: Int.self)
                    let sizes = sizeBytes.bindMemory(to: Int.self)
                    while cursor < bytes.count, count < 19 {
                        let byte = bytes[cursor]
                        if B.digit(byte) {
                            digits[count] = Int(byte - 0x30)
                            count += 1
                            sizes[groupCount - 1] += 1
                            cursor += 1
                            end = cursor
                        } else if (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-")) && (separator == nil || separator == byte)
                            && B.digit(at(cursor + 1))
                            && cursor > index && B.digit(bytes[cursor - 1])
                        {
                            separator = byte
                            groupCount += 1
                            cursor += 1
                        } else {
                            break
                        }
                    }
                }
            }
            // Fewer than twelve digits are no card (the search below starts at twelve).
            guard count >= 12, !B.digit(at(end)), wordEnd(end) else { return nil }
            let values = withUnsafeBytes(of: &digits) { Array($0.bindMemory(to: Int.self).prefix(count)) }
            let groups = withUnsafeBytes(of: &sizes) { Array($0.bindMemory(to: Int.self).prefix(groupCount)) }
            // Grouped digits must be grouped as cards are printed (fours; 4-6-5 and 4-6-4), else
            // it is an order or reference number (`663-8644651-3111625`).
            if groups.count > 1 {
                let fours = groups.dropLast().allSatisfy { $0 == 4 } && (1...4).contains(groups.last!)
                guard fours || groups == [4, 6, 5] || groups == [4, 6, 4] else { return nil }
            }

            // The longest prefix that is a valid card (a trailing group may be something else).
            var length = values.count
            while length >= 12 {
                let number = Array(values[0..<length])
                if Self.luhn(number), Self.knownIssuer(number) {
                    // A number labelled as an order, invoice or tracking number is not a card.
                    if let competing = labelDistance(index, Self.competingLabelBytes, within: 24),
                        (labelDistance(index, Self.cardLabelBytes, within: 48) ?? .max) > competing
                    {
                        return nil
                    }
                    var stop = index
                    var seen = 0
                    while seen < length {
                        if B.digit(bytes[stop]) { seen += 1 }
                        stop += 1
                    }
                    if stop < bytes.count, B.digit(bytes[stop]) { return nil }
                    add(.creditCard, index..<stop)
                    return stop
                }
                length -= 1
            }
            return nil
        }

        static func luhn(_ digits: [Int]) -> Bool {
            var sum = 0
            for (offset, digit) in digits.reversed().enumerated() {
                if offset % 2 == 1 {
                    let doubled = digit * 2
                    sum += doubled > 9 ? doubled - 9 : doubled
                } else {
                    sum += digit
                }
            }
            return sum % 10 == 0
        }

        /// Issuer prefixes and lengths: Visa (13, 16, 19), Mastercard (51–55 and 2221–2720),
        /// Amex, Discover, JCB, Diners, Maestro, UnionPay, Mir, RuPay.
        static func knownIssuer(_ d: [Int]) -> Bool {
            func prefix(_ count: Int) -> Int { d.prefix(count).reduce(0) { $0 * 10 + $1 } }
            let length = d.count
            let p2 = prefix(2)
            let p3 = prefix(3)
            let p4 = prefix(4)
            let p6 = prefix(6)
            if d[0] == 4 { return [13, 16, 19].contains(length) }
            if (51...55).contains(p2) || (2221...2720).contains(p4) { return length == 16 }
            if p2 == 34 || p2 == 37 { return length == 15 }
            if p4 == 6011 || p2 == 65 || (644...649).contains(p3) || (622126...622925).contains(p6) { return (16...19).contains(length) }
            if (3500...3599).contains(p4) { return (16...19).contains(length) }
            if p4 == 604 { return (12...19).contains(length) }  // Maestro UK (0604)
            if p4 == 1800 || p4 == 2131 { return length == 15 }  // JCB 15-digit
            if (300...305).contains(p3) || p2 == 36 || p2 == 38 || p2 == 39 { return (14...19).contains(length) }
            if p2 == 62 || p2 == 81 { return (16...19).contains(length) }
            if (2200...2204).contains(p4) { return (16...19).contains(length) }
            if [50, 56, 57, 58, 60, 63, 67, 68, 69].contains(p2) || p2 == 61 || p2 == 64 || p2 == 66 { return (12...19).contains(length) }
            return false
        }

        /// Phone numbers: international (`+CC`, `00CC`) with 8–15 digits; national formats with
        /// separators or a trunk `0` (10–12 digits, 9–13 with the trunk `0`, brackets allowed);
        /// bare runs of 10–11 digits only after a phone keyword. Right after a phone label (or in
        /// a phone column) shorter national numbers count too: grouped from 6 digits (`78 01 74`,
        /// `26 61 66 30`, `278 32 66`), bare from 7. Slash and dot separators (`87/789-3287`,
        /// `4538.4019`) need the label, and never when the groups read as a date.
        /// Extensions (`x123`, `ext. 12`) are included.
        mutating func phone(at index: Int) -> Int? {
            let first = bytes[index]
            if first != UInt8(ascii: "+") && first != UInt8(ascii: "(") && index > 0
                && (B.word(bytes[index - 1]) || bytes[index - 1] == UInt8(ascii: "+"))
            {
                return nil
            }
            var cursor = index
            var digitCount = 0
            var groups = 0
            var separators = 0
            var brackets = 0
            var lastDigitEnd = index
            var leadingZero = false
            var groupSizes = GroupSizes()
            // Separators that also write dates, decimals and versions (`/`, `.`).
            var ambiguousSeparators = 0
            var dots = 0
            var separatorsOtherThanSpace = 0
            let international = first == UInt8(ascii: "+") || B.matchesExactly(bytes, at: index, "00")
            if first == UInt8(ascii: "+") { cursor += 1 }
            while cursor < bytes.count {
                let byte = bytes[cursor]
                if B.digit(byte) {
                    if digitCount == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
                    let start = cursor
                    while cursor < bytes.count, B.digit(bytes[cursor]) { cursor += 1 }
                    digitCount += cursor - start
                    groupSizes.append(cursor - start)
                    groups += 1
                    lastDigitEnd = cursor
                    if digitCount > 15 { return nil }
                    continue
                }
                if byte == UInt8(ascii: "("), B.matchesExactly(bytes, at: cursor, "(0)") {
                    cursor += 3
                    brackets += 1
                    continue
                }
                if (byte == UInt8(ascii: "(") && B.digit(at(cursor + 1)))
                    || (byte == UInt8(ascii: ")") && cursor > index && B.digit(bytes[cursor - 1]))
                {
                    brackets += 1
                    cursor += 1
                    continue
                }
                if (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/"))
                    && cursor > index
                    && (B.digit(at(cursor + 1)) || (at(cursor + 1) == UInt8(ascii: "(") && B.digit(at(cursor + 2))))
                {
                    separators += 1
                    if byte == UInt8(ascii: ".") { dots += 1 }
                    if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/") { ambiguousSeparators += 1 }
                    if byte != UInt8(ascii: " ") { separatorsOtherThanSpace += 1 }
                    cursor += 1
                    continue
                }
                break
            }
            guard brackets % 2 == 0 || brackets == 1 && international else { return nil }
            var end = lastDigitEnd
            if at(end) == UInt8(ascii: ")") { end += 1 }
            guard wordEnd(lastDigitEnd) || at(lastDigitEnd) == UInt8(ascii: "x") else { return nil }
            // Only numbers of a phone's length pay for the context lookups, and only once.
            // What the context says the number is (see ``phoneLabel(at:namingAPhone:)``), looked
            // up at most once.
            var labelCache: Bool?? = .none
            // A quantity (`1 250 000`, `12.500`) or a decimal (`4538.4019`) needs a label that
            // names a phone (`phone`, `tel`, `mobile`, a phone column), not one that may be
            // about something else (`call volume: 1 250 000`, `contact rate 12.5`).
            let quantityShaped =
                !leadingZero && brackets == 0 && digitCount < 10 && groups >= 2
                && ((groupSizes[0] <= 3 && groupSizes.allSatisfy(from: 1) { $0 == 3 })
                    || (groups == 2 && ambiguousSeparators == 1 && separators == 1))
            func label() -> Bool? {
                if case .some(let known) = labelCache { return known }
                let value = phoneLabel(at: index, namingAPhone: quantityShaped)
                labelCache = .some(value)
                return value
            }
            func labelled() -> Bool { label() == true }
            let plausible: Bool
            if international {
                plausible = digitCount >= 8 && digitCount <= 15 && (first == UInt8(ascii: "+") || digitCount >= 10)
            } else if separators + brackets > 0 {
                guard (6...13).contains(digitCount) else { return nil }
                // `12/05/2024`, `2024-05-12`, `5.1.24`: dates, whatever is near.
                if brackets == 0, separatorsOtherThanSpace == separators, Self.readsAsDate(groupSizes) { return nil }
                if ambiguousSeparators > 0 {
                    // Dots alone in a national plan's own shape are a phone unless a label says
                    // otherwise: `417.495.5833` (NANP: area and exchange from 2, no N11 area),
                    // `06.91.81.67.11` (France: trunk 0, five pairs). Other dotted or slashed
                    // numbers (versions, decimals, dates) need a phone label.
                    let figures = self.digits(index..<lastDigitEnd)
                    let nanp =
                        groupSizes.are(3, 3, 4) && figures[0] >= 2 && figures[3] >= 2 && !(figures[1] == 1 && figures[2] == 1)
                    let pairs = leadingZero && groups == 5 && groupSizes.allSatisfy(from: 0) { $0 == 2 } && figures[1] != 0
                    if dots == separators, brackets == 0, nanp || pairs {
                        plausible = label() != false
                    } else {
                        plausible = groups >= 2 && labelled()
                    }
                } else {
                    plausible =
                        (digitCount >= 10 && digitCount <= 12) || (leadingZero && digitCount >= 9 && groups >= 2)
                        || groups >= 2 && (digitCount <= 12 || leadingZero) && labelled()
                }
            } else {
                if (8...12).contains(digitCount) {
                    let keyword =
                        keywordBefore(index, Self.phoneKeywords, within: 40)
                        || columnName(at: index).map { column in Self.phoneLabels.contains { column.contains($0) } } == true
                    plausible = ((digitCount == 10 || digitCount == 11) && leadingZero) || keyword || labelled()
                } else {
                    plausible = digitCount == 7 && labelled()
                }
            }
            guard plausible else { return nil }
            // Dates and versions are not phones: all-dot groups of 1–2 digits, `2024-05-01`.
            if separators > 0, brackets == 0, !international, groups == 3, digitCount == 8, !(ambiguousSeparators == 0 && labelled()) {
                return nil
            }
            let evidenceLabel = quantityShaped ? phoneLabel(at: index) : label()
            if !phoneEvidence(
                at: index, label: evidenceLabel, international: international, leadingZero: leadingZero, groupSizes: groupSizes, brackets: brackets)
            {
                return nil
            }
            // Extension.
            var stop = end
            if at(stop) == UInt8(ascii: "x"), B.digit(at(stop + 1)) {
                stop = run(from: stop + 1, B.digit)
            } else if B.matches(bytes, at: stop, " ext") {
                var cursor = stop + 4
                if at(cursor) == UInt8(ascii: ".") { cursor += 1 }
                if at(cursor) == UInt8(ascii: " ") { cursor += 1 }
                if B.digit(at(cursor)) { stop = run(from: cursor, B.digit) }
            }
            guard wordEnd(stop) else { return nil }
            add(.phone, index..<stop)
            return stop
        }

        /// What the context says the number at `index` is: a phone (true) when it is in a phone
        /// column or follows a phone label (within 48 bytes) nearer than any competing label
        /// (`order`, `tracking`, `invoice`, ...); something else (false) in a competing column or
        /// after a competing label; nil when there is neither.
        /// `namingAPhone`: only labels that are a phone's name count (not `call`, `reach`,
        /// `contact`, `dial`, `ring`), within 24 bytes.
        func phoneLabel(at index: Int, namingAPhone: Bool = false) -> Bool? {
            if let column = columnName(at: index) {
                if Self.phoneLabels.contains(where: { column.contains($0) }) || column.contains("number") && column.contains("ph") { return true }
                if Self.competingLabels.contains(where: { $0.count > 2 && column.contains($0) }) || column == "id" || column.hasSuffix("_id") {
                    return false
                }
            }
            let labels = namingAPhone ? Self.phoneNameLabelBytes : Self.phoneLabelBytes
            let phoneDistance = labelDistance(index, labels, within: namingAPhone ? 24 : 48)
            let competingDistance = labelDistance(index, Self.competingLabelBytes, within: 32)
            if let phoneDistance, phoneDistance < (competingDistance ?? .max) { return true }
            return competingDistance == nil ? nil : false
        }

        /// A phone candidate's digit groups, in order: at most 16 (more than 15 digits is no
        /// phone, and the scan stops there), each kept in a byte of two words instead of an array
        /// allocated for every number the scanner looks at.
        struct GroupSizes {
            private var packed: (UInt64, UInt64) = (0, 0)
            private(set) var count = 0

            mutating func append(_ size: Int) {
                guard count < 16 else { return }
                // A group longer than 255 digits ends the scan (more than 15 digits) at once.
                let value = UInt64(min(size, 255))
                if count < 8 { packed.0 |= value << UInt64(8 * count) } else { packed.1 |= value << UInt64(8 * (count - 8)) }
                count += 1
            }

            subscript(index: Int) -> Int {
                let word = index < 8 ? packed.0 >> UInt64(8 * index) : packed.1 >> UInt64(8 * (index - 8))
                return Int(truncatingIfNeeded: word & 0xFF)
            }

            func allSatisfy(from start: Int, _ predicate: (Int) -> Bool) -> Bool {
                var index = start
                while index < count {
                    if !predicate(self[index]) { return false }
                    index += 1
                }
                return true
            }

            /// Whether the groups are exactly these sizes.
            func are(_ a: Int, _ b: Int, _ c: Int) -> Bool { count == 3 && self[0] == a && self[1] == b && self[2] == c }
            func are(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Bool { count == 4 && self[0] == a && self[1] == b && self[2] == c && self[3] == d }
        }

        /// Three groups that read as a date: day, month and year in any order (`12/05/2024`,
        /// `2024.05.12`, `5.1.24`).
        static func readsAsDate(_ groupSizes: GroupSizes) -> Bool {
            guard groupSizes.count == 3 else { return false }
            let (a, b, c) = (groupSizes[0], groupSizes[1], groupSizes[2])
            return (a <= 2 && b <= 2 && (c == 2 || c == 4)) || (a == 4 && b <= 2 && c <= 2)
        }

        /// Whether a phone-shaped digit sequence is a phone rather than an order, tracking,
        /// serial or invoice number: a `+` country code always is; otherwise a phone keyword
        /// (nearer than any competing label, or the column's name) is enough, and without one the
        /// shape must be a national one (trunk `0` or brackets, or NANP-like groups of at most four
        /// digits) with no competing label nearby, and not glued to an identifier (`ORD-2025-…`).
        /// `label`: ``phoneLabel(at:namingAPhone:)`` of the number, with every phone label.
        func phoneEvidence(at index: Int, label: Bool?, international: Bool, leadingZero: Bool, groupSizes: GroupSizes, brackets: Int) -> Bool {
            if international && bytes[index] == UInt8(ascii: "+") { return true }
            if let label { return label }
            // Glued to an identifier: `ORD-2025-535875`, `INV#20240117`, `SN/4829 1736`.
            let previous = at(index - 1)
            if previous == UInt8(ascii: "-") || previous == UInt8(ascii: "#") || previous == UInt8(ascii: "/") || previous == UInt8(ascii: "_") {
                if B.alnum(at(index - 2)) { return false }
            }
            if international { return true }
            // The social-security shape (3-2-4) is never a phone.
            if groupSizes.are(3, 2, 4) { return false }
            if leadingZero || brackets > 0 { return true }
            // No trunk prefix, no keyword: only NANP-like groups (3-3-4, 1-3-3-4) or one run.
            if groupSizes.count == 1 { return true }
            return groupSizes.allSatisfy(from: 0) { $0 <= 4 }
                && (groupSizes.are(3, 3, 4) || groupSizes.are(1, 3, 3, 4) || groupSizes.are(3, 4, 4) || groupSizes.are(2, 4, 4))
        }

        // MARK: IBAN

        static let ibanLengths: [String: Int] = [
            "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22,
            "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22,
            "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30,
            "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31,
            "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24,
            "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
        ]

        /// IBAN: country, check digits and account, plain or in groups of four, mod-97 valid.
        mutating func iban(at index: Int) -> Int? {
            guard B.upper(at(index + 1)), B.digit(at(index + 2)), B.digit(at(index + 3)) else { return nil }
            let country = String(decoding: bytes[index..<(index + 2)], as: UTF8.self)
            var characters: [UInt8] = []
            var positions: [Int] = []
            var cursor = index
            while cursor < bytes.count, characters.count < 34 {
                let byte = bytes[cursor]
                if B.digit(byte) || B.upper(byte) {
                    characters.append(byte)
                    cursor += 1
                    positions.append(cursor)
                } else if byte == UInt8(ascii: " "), B.alnum(at(cursor + 1)), characters.count % 4 == 0 {
                    cursor += 1
                } else {
                    break
                }
            }
            // The country's length first; then any length whose check digits hold (mod 97 leaves a
            // 1-in-97 chance to chance text): IBANs a character short or long, as generators and
            // typing produce them, are still read as IBANs by people.
            let known = Self.ibanLengths[country]
            let candidates = (known.map { [$0] } ?? []) + Array((15...34).reversed()).filter { $0 != known }
            for length in candidates where length <= characters.count {
                let end = positions[length - 1]
                guard wordEnd(end), Self.mod97(Array(characters[0..<length])) == 1 else { continue }
                add(.iban, index..<end)
                return end
            }
            return nil
        }

        static func mod97(_ characters: [UInt8]) -> Int {
            var remainder = 0
            for byte in characters[4...] + characters[0..<4] {
                if B.digit(byte) {
                    remainder = (remainder * 10 + Int(byte - 0x30)) % 97
                } else {
                    remainder = (remainder * 100 + Int(byte - 0x41 + 10)) % 97
                }
            }
            return remainder
        }

        // MARK: context-dependent

        /// Whether one of `keywords` (lowercase) lies within `within` bytes before `index`.
        func keywordBefore(_ index: Int, _ keywords: Labels, within: Int) -> Bool {
            let range = max(0, index - within)..<index
            // One pass over the range, comparing only where a keyword's first byte stands.
            let starts = keywords.starts
            for position in range {
                let byte = B.lowercased(bytes[position])
                guard starts[Int(byte)] else { continue }
                for keyword in keywords.buckets[Int(byte)] where position + keyword.count <= range.upperBound && B.matches(bytes, at: position, keyword) {
                    return true
                }
            }
            return false
        }

        /// The distance back from `index` to the nearest of `labels` (lowercase) that starts a
        /// word within `within` bytes before it, or nil. Unlike ``keywordBefore(_:_:within:)``
        /// a label must start at a word boundary, so short labels (`id`, `po`) do not match
        /// inside other words.
        func labelDistance(_ index: Int, _ labels: Labels, within: Int) -> Int? {
            let lower = max(0, index - within)
            // Nearest start first: the first label found is the nearest one. Only word starts
            // are compared, each with the labels that begin with its byte.
            var start = index - 1
            while start >= lower {
                if start == 0 || !B.alpha(bytes[start - 1]) {
                    let first = B.lowercased(bytes[start])
                    for needle in labels.buckets[Int(first)]
                    where start <= index - needle.count && B.matches(bytes, at: start, needle)
                        && !B.alpha(at(start + needle.count))
                    {
                        return index - start
                    }
                }
                start -= 1
            }
            return nil
        }

        /// The lowercased name of the delimited column (CSV, TSV, `;` or `|`) that `index` lies
        /// in: the field at the same position in the first line of the block of consecutive
        /// lines that have as many delimiters as this one. Nil outside such a table.
        func columnName(at index: Int) -> String? {
            // Table rows are short: lines longer than 512 bytes are not looked at (and prose
            // without line breaks costs one bounded scan, not one per candidate number).
            // The first line feed at or after `position` (its index in `newlines`).
            func firstNewline(from position: Int) -> Int {
                var low = 0
                var high = newlines.count
                while low < high {
                    let middle = (low + high) / 2
                    if newlines[middle] < position { low = middle + 1 } else { high = middle }
                }
                return low
            }
            func lineStart(_ position: Int) -> Int? {
                let next = firstNewline(from: position)
                let start = next == 0 ? 0 : newlines[next - 1] + 1
                return position - start > 512 ? nil : start
            }
            func lineEnd(_ position: Int) -> Int? {
                let next = firstNewline(from: position)
                let end = next < newlines.count ? newlines[next] : bytes.count
                return end - position > 512 ? nil : end
            }
            guard let start = lineStart(index), start > 0, let end = lineEnd(index) else { return nil }
            var delimiter: UInt8 = 0
            var best = 0
            for candidate in [UInt8(ascii: ","), UInt8(ascii: "\t"), UInt8(ascii: ";"), UInt8(ascii: "|")] {
                let count = bytes[start..<end].reduce(0) { $0 + ($1 == candidate ? 1 : 0) }
                if count > best {
                    best = count
                    delimiter = candidate
                }
            }
            guard best > 0 else { return nil }
            let column = bytes[start..<index].reduce(0) { $0 + ($1 == delimiter ? 1 : 0) }
            // Walk up while the lines above have the same number of delimiters.
            var headerStart = start
            var scanned = 0
            while headerStart > 0, scanned < 200 {
                let previousEnd = headerStart - 1
                guard let previousStart = lineStart(previousEnd) else { break }
                let count = bytes[previousStart..<previousEnd].reduce(0) { $0 + ($1 == delimiter ? 1 : 0) }
                guard count == best else { break }
                headerStart = previousStart
                scanned += 1
            }
            guard headerStart < start else { return nil }
            guard let headerEnd = lineEnd(headerStart) else { return nil }
            let header = bytes[headerStart..<headerEnd].split(separator: delimiter, omittingEmptySubsequences: false)
            guard column < header.count else { return nil }
            let name = header[column].filter { $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: " ") && $0 != 0x0D }
            guard !name.isEmpty, name.contains(where: B.alpha) else { return nil }
            return String(decoding: name.map(B.lowercased), as: UTF8.self)
        }

        /// An SSN or tax-id label within the sentence before `index` (80 bytes: a chat answer to
        /// the question on the line before), or the column's name.
        func ssnLabelled(_ index: Int) -> Bool {
            if labelDistance(index, Self.ssnLabelBytes, within: 80) != nil { return true }
            guard let column = columnName(at: index) else { return false }
            let name = column.filter { $0 != "_" && $0 != "-" && $0 != " " }
            return Self.ssnLabels.contains { name.contains($0.filter { $0 != "_" && $0 != "-" && $0 != " " }) }
        }

        /// Labels (lowercase) by their first byte.
        /// Labels or keywords (lowercase), bucketed by their first byte once, with whether any
        /// starts with a byte: what the look-behinds compare instead of strings at every byte.
        struct Labels: Sendable {
            let buckets: [[[UInt8]]]
            let starts: [Bool]

            init(_ labels: [String]) {
                var buckets = [[[UInt8]]](repeating: [], count: 256)
                for label in labels { buckets[Int(label.utf8.first!)].append(Array(label.utf8)) }
                self.buckets = buckets
                starts = buckets.map { !$0.isEmpty }
            }
        }

        static let ssnLabelBytes = Labels(ssnLabels)
        static let phoneLabelBytes = Labels(phoneLabels)
        static let phoneNameLabelBytes = Labels(phoneLabels.filter { !phoneActionLabels.contains($0) })
        /// Phone labels that are verbs or contact in general rather than a phone's name.
        static let phoneActionLabels: Set<String> = ["call", "reach", "contact", "dial", "ring", "text me", "sms", "kontakt", "contacto", "contatto"]
        static let competingLabelBytes = Labels(competingLabels)
        static let cardLabelBytes = Labels(["card", "visa", "mastercard", "amex", "credit", "debit", "cc"])
        static let ssnLabels = [
            "ssn", "social security", "social_security", "social-security", "socialsecurity", "social sec", "soc sec", "tax_id", "tax id", "tax-id",
            "taxid", "taxpayer", "tin", "itin", "ss#", "ss no", "ss num",
        ]
        static let phoneLabels = [
            "phone", "call", "tel", "telephone", "mobile", "cell", "fax", "whatsapp", "sms", "text me", "reach", "contact", "dial", "ring",
            "number is", "landline", "hotline",
            // Other languages' words for a phone, as whole words.
            "telefon", "telefono", "teléfono", "telefone", "téléphone", "tél", "tlf", "tfn", "puh", "handy", "móvil", "movil", "celular",
            "cellulare", "kontakt", "contacto", "contatto", "portable", "mobil", "mobiel", "gsm", "natel", "rufnummer", "telefonnummer",
        ]
        /// Labels of numbers that look like phones but are something else.
        static let competingLabels = [
            "order", "orders", "tracking", "track", "serial", "s/n", "sku", "batch", "ref", "reference", "invoice", "inv", "id", "ticket", "case",
            "lot", "part", "po", "receipt", "transaction", "txn", "confirmation", "shipment", "parcel", "package", "booking", "reservation",
            "version", "build", "isbn", "zip", "postal", "claim",
            // Identifiers of machines' records: a trace or session id that happens to pass Luhn.
            "trace", "traceid", "span", "spanid", "uuid", "guid", "session", "sessionid", "correlation", "checksum", "nonce",
        ]

        static let birthKeywords = Labels(["born", "birth", "dob", "d.o.b", "geboren", "geburtsdatum", "naissance", "né le", "nacimiento", "nato il"])
        static let phoneKeywords = Labels(["phone", "call", "tel", "mobile", "cell", "fax", "whatsapp", "sms", "text me", "reach"])
        static let months = [
            "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb",
            "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        ]

        /// A calendar date that follows a birth keyword.
        mutating func dateOfBirth(at index: Int) -> Int? {
            guard let end = date(at: index), keywordBefore(index, Self.birthKeywords, within: 40) else { return nil }
            add(.dateOfBirth, index..<end)
            return end
        }

        /// `1990-05-17`, `05/17/1990`, `17.05.1990`, `17 May 1990`, `May 17, 1990`.
        func date(at index: Int) -> Int? {
            let first = run(from: index, B.digit)
            let n1 = first - index
            if n1 == 4 || n1 == 1 || n1 == 2, let separator = Optional(at(first)),
                separator == UInt8(ascii: "-") || separator == UInt8(ascii: "/") || separator == UInt8(ascii: ".")
            {
                let second = run(from: first + 1, B.digit)
                guard (1...2).contains(second - first - 1), at(second) == separator else { return nil }
                let third = run(from: second + 1, B.digit)
                let n3 = third - second - 1
                guard n1 == 4 ? (1...2).contains(n3) : (n3 == 4 || n3 == 2), wordEnd(third) else { return nil }
                return third
            }
            if n1 == 1 || n1 == 2, at(first) == UInt8(ascii: " ") {
                var cursor = first + 1
                guard let month = Self.months.first(where: { B.matches(bytes, at: cursor, $0) }) else { return nil }
                cursor = run(from: cursor + month.count, B.alpha)
                if at(cursor) == UInt8(ascii: ",") { cursor += 1 }
                guard at(cursor) == UInt8(ascii: " ") else { return nil }
                let year = run(from: cursor + 1, B.digit)
                return year - cursor - 1 == 4 ? year : nil
            }
            return nil
        }

        static let passportKeywords = ["passport", "passeport", "reisepass", "pasaporte", "passaporto"]
        static let licenceKeywords = [
            "driver's license", "driver’s license", "drivers license", "driver license", "driving licence", "driver's licence",
            "driving license", "licence number", "license number", "licence no", "license no", "führerschein", "permis de conduire", "dl#", "dl no",
        ]

        /// Keyword-led identifiers: a passport or licence number (a token with digits) shortly
        /// after its keyword, and a month-name date of birth.
        mutating func keywordEntity(at index: Int) -> Int? {
            let first = Int(B.lowercased(bytes[index]))
            if wantsDateOfBirth, Self.monthBuckets[first].contains(where: { B.matches(bytes, at: index, $0) }),
                keywordBefore(index, Self.birthKeywords, within: 40)
            {
                // `May 17, 1990`
                var cursor = run(from: index, B.alpha)
                guard at(cursor) == UInt8(ascii: " ") else { return nil }
                let day = run(from: cursor + 1, B.digit)
                guard (1...2).contains(day - cursor - 1) else { return nil }
                cursor = day
                if B.matches(bytes, at: cursor, "st") || B.matches(bytes, at: cursor, "nd")
                    || B.matches(bytes, at: cursor, "rd") || B.matches(bytes, at: cursor, "th")
                {
                    cursor += 2
                }
                if at(cursor) == UInt8(ascii: ",") { cursor += 1 }
                guard at(cursor) == UInt8(ascii: " ") else { return nil }
                let year = run(from: cursor + 1, B.digit)
                guard year - cursor - 1 == 4 else { return nil }
                add(.dateOfBirth, index..<year)
                return year
            }
            for kind in 0..<2 where kind == 0 ? wantsPassport : wantsLicence {
                let (entity, lengths) = kind == 0 ? (Entity.passport, 6...12) : (Entity.driverLicense, 5...18)
                let buckets = kind == 0 ? Self.passportBuckets : Self.licenceBuckets
                guard let keyword = buckets[first].first(where: { B.matches(bytes, at: index, $0) }) else { continue }
                var cursor = index + keyword.utf8.count
                let limit = min(bytes.count, cursor + 40)
                while cursor < limit {
                    let start = cursor
                    let end = run(from: cursor) { B.alnum($0) || $0 == UInt8(ascii: "-") }
                    if end > start {
                        let token = bytes[start..<end]
                        if lengths.contains(token.count), token.contains(where: B.digit), !token.contains(where: B.lower) || token.count >= 8 {
                            add(entity, start..<end)
                            return end
                        }
                        cursor = end
                    } else {
                        cursor += 1
                    }
                }
            }
            return nil
        }

        // MARK: addresses

        static let streetSuffixes: Set<String> = [
            "Alley", "Allee", "Aly", "Annex", "Anx", "Arcade", "Avenue", "Ave", "Av", "Bayou", "Beach", "Bend", "Bluff", "Bluffs", "Bottom",
            "Boulevard",
            "Blvd", "Branch", "Bridge", "Brook", "Brooks", "Burg", "Burgs", "Bypass", "Camp", "Canyon", "Cape", "Causeway", "Center", "Centers",
            "Circle", "Cir", "Circles", "Cliff", "Cliffs", "Club", "Common", "Commons", "Corner", "Corners", "Course", "Court", "Ct", "Courts",
            "Cove", "Coves", "Creek", "Crescent", "Crest", "Crossing", "Crossroad", "Curve", "Dale", "Dam", "Divide", "Drive", "Dr", "Drives",
            "Estate", "Estates", "Expressway", "Extension", "Extensions", "Fall", "Falls", "Ferry", "Field", "Fields", "Flat", "Flats", "Ford",
            "Fords", "Forest", "Forge", "Forges", "Fork", "Forks", "Fort", "Freeway", "Garden", "Gardens", "Gateway", "Glen", "Glens", "Green",
            "Greens", "Grove", "Groves", "Harbor", "Harbors", "Haven", "Heights", "Highway", "Hwy", "Hill", "Hills", "Hollow", "Inlet", "Island",
            "Islands", "Isle", "Junction", "Junctions", "Key", "Keys", "Knoll", "Knolls", "Lake", "Lakes", "Land", "Landing", "Lane", "Ln", "Light",
            "Lights", "Loaf", "Lock", "Locks", "Lodge", "Loop", "Mall", "Manor", "Manors", "Meadow", "Meadows", "Mews", "Mill", "Mills", "Mission",
            "Motorway", "Mount", "Mountain", "Mountains", "Neck", "Orchard", "Oval", "Overpass", "Park", "Parks", "Parkway", "Pkwy", "Parkways",
            "Pass", "Passage", "Path", "Pike", "Pine", "Pines", "Place", "Pl", "Plain", "Plains", "Plaza", "Point", "Points", "Port", "Ports",
            "Prairie", "Radial", "Ramp", "Ranch", "Rapid", "Rapids", "Rest", "Ridge", "Ridges", "River", "Road", "Rd", "Roads", "Route", "Row",
            "Rue", "Run", "Shoal", "Shoals", "Shore", "Shores", "Skyway", "Spring", "Springs", "Spur", "Spurs", "Square", "Sq", "Squares",
            "Station", "Stravenue", "Stream", "Street", "St", "Streets", "Summit", "Terrace", "Ter", "Throughway", "Trace", "Track", "Trafficway",
            "Trail", "Trl", "Trailer", "Tunnel", "Turnpike", "Underpass", "Union", "Unions", "Valley", "Valleys", "Via", "Viaduct", "View", "Views",
            "Village", "Villages", "Ville", "Vista", "Walk", "Walks", "Wall", "Way", "Ways", "Well", "Wells", "Close", "Gate", "Hill", "Wharf",
        ]

        /// `1234 Elm Street`, `80695 Brown Hills Apt. 304`: a house number, one to four
        /// capitalised words and a street suffix; also `790, rue de ...` (French order).
        mutating func streetAddress(at index: Int) -> Int? {
            let number = run(from: index, B.digit)
            guard (1...6).contains(number - index) else { return nil }
            var cursor = number
            if at(cursor) == UInt8(ascii: ","), at(cursor + 1) == UInt8(ascii: " ") {
                // French: `12, rue ...`, `5, avenue ...`
                let word = cursor + 2
                for kind in ["rue", "avenue", "boulevard", "chemin", "allée", "place", "impasse", "quai", "route", "cours", "rond-point"]
                where B.matches(bytes, at: word, kind) && B.matchesExactly(bytes, at: word + kind.utf8.count, " ") {
                    var end = word + kind.utf8.count
                    var words = 0
                    while words < 5, at(end) == UInt8(ascii: " "), B.alpha(at(end + 1)) || at(end + 1) >= 0x80 {
                        end = run(from: end + 1) { B.alpha($0) || $0 >= 0x80 || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "'") }
                        words += 1
                    }
                    guard words > 0 else { return nil }
                    add(.address, index..<end)
                    return end
                }
                return nil
            }
            guard at(cursor) == UInt8(ascii: " ") else { return nil }
            var words = 0
            var end: Int?
            while words < 5, at(cursor) == UInt8(ascii: " ") {
                let start = cursor + 1
                guard B.upper(at(start)) || B.digit(at(start)) else { break }
                let stop = run(from: start) { B.alpha($0) || B.digit($0) || $0 == UInt8(ascii: "'") }
                guard stop > start else { break }
                let word = String(decoding: bytes[start..<stop], as: UTF8.self)
                words += 1
                if words >= 2, Self.streetSuffixes.contains(word) {
                    end = at(stop) == UInt8(ascii: ".") && word.count <= 4 ? stop + 1 : stop
                }
                cursor = stop
                if end != nil { break }
            }
            guard var stop = end else { return nil }
            // Secondary unit: `Apt. 304`, `Suite 143`, `Unit 7`.
            for unit in Self.unitPrefixes where B.matches(bytes, at: stop, unit) {
                let digits = run(from: stop + unit.utf8.count, B.alnum)
                if digits > stop + unit.utf8.count { stop = digits }
                break
            }
            add(.address, index..<stop)
            return stop
        }

        static let germanStreetEndings = [
            "straße", "strasse", "str.", "gasse", "weg", "allee", "platz", "ring", "damm", "ufer", "chaussee", "pfad", "steig", "markt", "berg",
        ]

        /// Where the words of a street that starts at `index` end before its number: up to
        /// three words (`Dussen vanstraße`, `Am Alten Markt`) of `streetBytes` (letters, bytes
        /// from 0x80, `-`, `.`) with a single space between each two, then a space and a digit.
        /// Nil when a fourth word, punctuation or the text's end comes first; most capitalised
        /// words of prose end so, read through one table (a closure of four comparisons per
        /// byte was most of the street scanner's cost).
        static func streetWordsEnd(_ bytes: [UInt8], from index: Int, _ streetBytes: [Bool]) -> Int? {
            let count = bytes.count
            var end = index
            var words = 0
            while true {
                while end < count, streetBytes[Int(bytes[end])] { end += 1 }
                words += 1
                guard end + 1 < count, bytes[end] == UInt8(ascii: " ") else { return nil }
                let next = bytes[end + 1]
                if B.digit(next) { return end }
                guard words < 3, B.alpha(next) || next >= 0x80 else { return nil }
                end += 1
            }
        }

        /// `Hauptstraße 5`, `Katharina-Wende-Ring 3419`, `Metzweg 27/17`: a street whose last
        /// word ends in a German street type (`-straße`, `-weg`, `-ring`, …), then a house number.
        mutating func germanOrFrenchStreet(at index: Int) -> Int? {
            guard B.upper(bytes[index]), let end = Self.streetWordsEnd(bytes, from: index, tables.streetBytes), end - index >= 5,
                Self.germanStreetEndings.contains(where: { $0.utf8.count < end - index && B.matches(bytes, at: end - $0.utf8.count, $0) })
            else { return nil }
            var stop = run(from: end + 1, B.digit)
            guard stop - end - 1 <= 5 else { return nil }
            if at(stop) == UInt8(ascii: "/") || at(stop) == UInt8(ascii: "-"), B.digit(at(stop + 1)) { stop = run(from: stop + 1, B.digit) }
            if B.lower(at(stop)), !B.alpha(at(stop + 1)) { stop += 1 }
            guard wordEnd(stop) else { return nil }
            add(.address, index..<stop)
            return stop
        }

        static let frenchStreetTypes = ["rue", "avenue", "boulevard", "chemin", "allée", "impasse", "quai"]

        /// `rue Denise Roux`, `avenue de la Gare`: a French street type followed by a name.
        mutating func frenchStreetName(at index: Int) -> Int? {
            guard B.lower(bytes[index]), let kind = Self.frenchBuckets[Int(bytes[index])].first(where: { B.matchesExactly(bytes, at: index, $0) })
            else {
                return nil
            }
            var cursor = index + kind.utf8.count
            guard at(cursor) == UInt8(ascii: " ") else { return nil }
            var words = 0
            var end = cursor
            while words < 5, at(cursor) == UInt8(ascii: " ") {
                let start = cursor + 1
                let stop = run(from: start) { B.alpha($0) || $0 >= 0x80 || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "'") }
                guard stop > start else { break }
                let word = String(decoding: bytes[start..<stop], as: UTF8.self)
                if ["de", "du", "des", "la", "le", "les"].contains(word) || word.hasPrefix("d'") && word.count > 2 && B.upper(bytes[start + 2]) {
                    cursor = stop
                    if word.hasPrefix("d'") {
                        words += 1
                        end = stop
                    }
                    continue
                }
                guard B.upper(bytes[start]) || bytes[start] >= 0x80 else { break }
                words += 1
                end = stop
                cursor = stop
            }
            guard words > 0 else { return nil }
            add(.address, index..<end)
            return end
        }

        /// US military addresses: `APO AE 09012`, `FPO AP 96601`, `DPO AA 34001`, and `PSC 1234, Box 5678`.
        mutating func militaryAddress(at index: Int) -> Int? {
            for prefix in Self.militaryPrefixes where B.matchesExactly(bytes, at: index, prefix) {
                let code = index + 4
                guard B.upper(at(code)), B.upper(at(code + 1)), at(code + 2) == UInt8(ascii: " ") else { return nil }
                let zip = run(from: code + 3, B.digit)
                guard zip - code - 3 == 5 else { return nil }
                add(.address, index..<zip)
                return zip
            }
            for prefix in Self.boxPrefixes where B.matchesExactly(bytes, at: index, prefix) {
                let number = run(from: index + prefix.utf8.count, B.digit)
                guard number > index + prefix.utf8.count else { return nil }
                var stop = number
                if B.matchesExactly(bytes, at: stop, ", Box ") || B.matchesExactly(bytes, at: stop, " Box ") {
                    let box = run(from: stop + (at(stop) == UInt8(ascii: ",") ? 6 : 5), B.digit)
                    if box > stop + 5 { stop = box }
                }
                guard prefix.hasPrefix("P") || stop > number else { return nil }
                add(.address, index..<stop)
                return stop
            }
            return nil
        }
    }
}
