import Testing

@testable import SwitchyardCore

/// The PII detector's context rules (issue 17): numbers that only look like phones, SSNs and
/// AWS secrets named by a keyword or a column instead of sitting next to their key id. Each
/// class is tested both ways: caught, and not flagged.
@Suite struct PIIContextTests {
    static let detector = PIIDetector(entities: Set(PIIDetector.Entity.allCases))

    static func entities(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        return detector.findings(in: bytes, context: []).map(\.entity)
    }

    @Test(arguments: [
        "Where is my order ORD-2025-535875? It has not arrived.",
        "Order number 4821 5567 9034 was charged twice.",
        "Tracking: 9405 5036 9930 0",
        "Serial no. 4829-1736-2210, bought last May.",
        "SKU 023-98-0000 is out of stock",
        "2024-03-01 12:00:01 INFO batch 7731 4410 22 finished",
        "Invoice INV#2024011755 is overdue",
        "ticket 5512 3344 8890 was closed",
    ])
    func identifiersThatLookLikePhonesAreNotPhones(_ text: String) {
        #expect(!Self.entities(text).contains("phone"), "\(text)")
    }

    @Test(arguments: [
        "Call me on 555-867-5309 tomorrow",
        "phone: (591)341-7776",
        "My number is 020 7946 0958.",
        "reach me at +44 20 7946 0958",
        "Order 5521 arrived; my phone number is 415-555-0132",
        "Mobile 0612345678",
        "1-800-555-0199 is the hotline",
    ])
    func phonesAreStillCaught(_ text: String) {
        #expect(Self.entities(text).contains("phone"), "\(text)")
    }

    /// National numbers shorter than ten digits (Scandinavian 8-digit, Alpine 6–7-digit local
    /// numbers), numbers written with `/` or `.`, and long trunk-`0` numbers: caught right
    /// after a phone label or in a phone column, in English or the locale's own word.
    @Test(arguments: [
        "Phone: 26 61 66 30",
        "You can reach me on 5597 2979 after six.",
        "Tel. 278 32 66",
        "Telefon: 78 01 74",
        "name,mobile\nIngrid,7482 1237\n",
        "Handy 0151/2345 6789",
        "call me: 87/789-3287",
        "my phone number is 4538.4019",
        "Kontakt: 07577 89328 792",
        "Phone: 3310077",
        "Telefon: 601 809 679",
        "Téléphone : 04 72 55 18 90",
    ])
    func shortAndSlashedNationalNumbersAfterAPhoneLabelAreCaught(_ text: String) {
        #expect(Self.entities(text).contains("phone"), "\(text)")
    }

    /// ... and the same shapes without a phone label, or that read as dates, stay text.
    @Test(arguments: [
        "The box weighs 4538.4019 grams",
        "Order 26 61 66 30 shipped",
        "We had 5597 2979 visitors",
        "Call scheduled for 12/05/2024 at noon",
        "Contact date: 2024-05-12",
        "phone batch 7731 4410 22 finished",
        "Ticket 278 32 66 was closed; call us if it comes back",
        "version 3.14.2 fixes the crash; call it a day",
        "Call volume last month: 1 250 000 minutes",
        "Contact rate 4538.4019 per hour",
        "We reached 12 500 users; call us to learn how",
    ])
    func theSameShapesWithoutAPhoneLabelAreNotPhones(_ text: String) {
        #expect(!Self.entities(text).contains("phone"), "\(text)")
    }

    @Test func phoneColumnsAndOrderColumnsDecideFromTheirHeader() {
        let csv = "name,order_id,phone\nAda,4821 5567 9034,4821 5567 9034\n"
        let bytes = Array(csv.utf8)
        let found = Self.detector.findings(in: bytes, context: []).filter { $0.entity == "phone" }
        #expect(found.count == 1)
        if let first = found.first {
            #expect(first.range.lowerBound > csv.utf8.count - 16, "only the phone column's value")
        }
    }

    /// The column of a value is read from the table's header line wherever the table stands
    /// (after prose, after blank lines, at the end without a line feed), through the rows above
    /// with as many delimiters; a row longer than 512 bytes is not read as one.
    @Test func columnsAreFoundWhereverTheTableStands() {
        func phones(_ text: String) -> Int { Self.detector.findings(in: Array(text.utf8), context: []).filter { $0.entity == "phone" }.count }
        let table = "name,order_id,phone\nAda,4821 5567 9034,4821 5567 9034\nBob,4821 5567 9035,4821 5567 9036"
        #expect(phones(table) == 2, "the last row has no line feed after it")
        #expect(phones("Export of today's contacts.\n\n" + table + "\n") == 2)
        #expect(phones(String(repeating: "Some notes without a table. ", count: 30) + "\n" + table) == 2)
        let wide = "name,order_id,phone\nAda,4821 5567 9034," + String(repeating: "x", count: 520) + ",4821 5567 9034\n"
        // A row of more than 512 bytes is not looked up as a table row: its values are judged
        // by their shape alone (the order id, first, reads as a phone; read as a table it
        // would not be, and the phone column's value would be).
        let wideFound = Self.detector.findings(in: Array(wide.utf8), context: []).filter { $0.entity == "phone" }
        #expect(wideFound.map(\.range) == [24..<38])
        let ssn = "name,note,ssn\n" + (1...40).map { "P\($0),ok,23456\(1000 + $0)" }.joined(separator: "\n")
        #expect(Self.entities(ssn).filter { $0 == "ssn" }.count == 40, "forty rows under one header")
    }

    @Test(arguments: [
        "My SSN is 123456789, please update it",
        "Social Security No. 078051120",
        "tax_id=123456789",
        "name,ssn,city\nAda Lovelace,234567891,London\n",
    ])
    func nineDigitSSNsBesideTheirLabelAreCaught(_ text: String) {
        #expect(Self.entities(text).contains("ssn"), "\(text)")
    }

    @Test(arguments: [
        "Your confirmation code is 123456789",
        "name,zip,order\nAda,123456789,22\n",
    ])
    func nineDigitNumbersWithoutAnSSNLabelAreNot(_ text: String) {
        #expect(!Self.entities(text).contains("ssn"), "\(text)")
    }

    @Test(arguments: [
        #"{"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
        "AWS_SECRET = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "the AWS access key (wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY) leaked",
        "user,access_key\nci-bot,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    ])
    func awsSecretsNamedByTheirLineOrColumnAreCaught(_ text: String) {
        #expect(Self.entities(text).contains("aws_secret_key"), "\(text)")
    }

    @Test(arguments: [
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 fixed it",
        "the build hash is AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGhIjKlMn",
    ])
    func fortyCharacterStringsWithoutContextAreNotAWSSecrets(_ text: String) {
        #expect(!Self.entities(text).contains("aws_secret_key"), "\(text)")
    }

    /// The AWS-secret precheck probes every 40th byte instead of reading each: it must answer
    /// what counting the longest run of the key alphabet answers, on texts whose runs end just
    /// short of, at and past 40 bytes, anywhere in the text (a key at either end included).
    /// Keyword look-behind (a birth keyword before a date, a phone keyword before a number that
    /// needs one): a keyword counts anywhere in its window, in any case, and its own bytes in
    /// full; outside the window, cut by the window's start, or absent, it does not.
    @Test(arguments: [
        ("She was born on 12/03/1990 in Lyon.", "date_of_birth", true),
        ("DOB: 03/12/1990", "date_of_birth", true),
        ("né le 03/12/1990 à Paris", "date_of_birth", true),
        ("Geburtsdatum 12.03.1990", "date_of_birth", true),
        ("born in the spring, May 17, 1990 it was", "date_of_birth", true),
        ("The invoice is dated 12/03/1990.", "date_of_birth", false),
        ("I was born there. Then a long while passed, many years in fact, and on 12/03/1990 I left", "date_of_birth", false),
        ("irth 12/03/1990", "date_of_birth", false),
        ("WhatsApp 61234567", "phone", true),
        ("ticket 61234567", "phone", false),
    ])
    func keywordsBeforeAValueAreReadInTheirWindow(_ text: String, _ entity: String, _ found: Bool) {
        #expect(Self.entities(text).contains(entity) == found, "\(text)")
    }

    /// IPv6 addresses are looked for only where a `:` follows within the first group: every
    /// valid address (any group length, any case, `::` anywhere, an IPv4 tail) is still found,
    /// and words of prose made of hex letters are passed over.
    @Test func ipv6AddressesAreFoundWhateverTheirFirstGroup() {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdefABCDEF")
        for _ in 0..<3000 {
            var groups = (0..<8).map { _ in String((0..<Int.random(in: 1...4, using: &generator)).map { _ in hex.randomElement(using: &generator)! }) }
            var tail = ""
            if Int.random(in: 0..<4, using: &generator) == 0 {
                groups.removeLast(2)
                tail = (0..<4).map { _ in String(Int.random(in: 0...255, using: &generator)) }.joined(separator: ".")
            }
            var address: String
            if Bool.random(using: &generator) {
                // A run of groups (at least one) compressed to `::`, possibly at either end.
                let start = Int.random(in: 0..<groups.count, using: &generator)
                // (Not all of them without a tail: `::` alone is too short to be taken for one.)
                let end = Int.random(in: (start + 1)...(start == 0 && tail.isEmpty ? groups.count - 1 : groups.count), using: &generator)
                address = groups[..<start].joined(separator: ":") + "::" + groups[end...].joined(separator: ":")
                if !tail.isEmpty { address += (end == groups.count ? "" : ":") + tail }
            } else {
                address = groups.joined(separator: ":") + (tail.isEmpty ? "" : ":" + tail)
            }
            // (The loopback address is passed over on purpose: see below.)
            if address == "::1" { continue }
            let text = "the host \(address) is down"
            let bytes = Array(text.utf8)
            let found = Self.detector.findings(in: bytes, context: []).filter { $0.entity == "ip_address" }
            #expect(found.map { String(decoding: bytes[$0.range], as: UTF8.self) } == [address], "\(address)")
        }
        // The loopback address `::1` names no one's machine (see the next test).
        #expect(Self.entities("loopback ::1 and ::ffff:10.0.0.1 here").filter { $0 == "ip_address" }.count == 1)
        for text in ["a decade of beef, cafe and dead faces", "deadbeef: 12 faded", "abcde:1:2::3 is not one", "bad add: face: fee", #"{"id":"a","n":1,"b":"c:d"}"#] {
            #expect(!Self.entities(text).contains("ip_address"), "\(text)")
        }
    }

    /// Addresses that name no one's machine and four-part version numbers are not personal data
    /// (nor a phone); addresses of hosts are, version word or not.
    @Test func loopbackAddressesAndVersionNumbersAreNoIPAddresses() {
        let hosts = [
            "Client 203.0.113.7 connected", "login from 198.51.100.23 at 09:14", "firmware at 192.168.1.1 (version 2.1)",
            #"{"ip":"81.2.69.160","version":"2"}"#, "IP: 10.0.0.3", "release notes: see the host 172.16.4.20", "remote addr 8.8.4.4",
            "dns server version 2 answers from 9.9.9.9", "Upgrade to version 4 on 52.14.7.200",
        ]
        for text in hosts { #expect(Self.entities(text).contains("ip_address"), "\(text)") }
        let others = [
            "Listening on 0.0.0.0:56331", "docker run -p 127.0.0.1:5960:5432 db", "Upgrade from version 5.7.2.75 first",
            "Section 3.4.1.9 of the spec", #"<assembly fileVersion="8.0.198.118"/>"#, "bootloader 9.4.5.2 is signed", "Kernel 5.15.0.91 panicked",
            "multicast group 239.1.2.3 joined", "netmask 255.255.255.0", "Build 10.0.19041.1 is out", "§ 2.3.4.1 applies",
            "curl http://[::1]:8080/ ok",
            "app_version: 1.22.3.4", "see also clause 9.14.13.13",
        ]
        for text in others {
            let found = Self.entities(text)
            #expect(!found.contains("ip_address") && !found.contains("phone"), "\(text): \(found)")
        }
    }

    /// Passwords given as settings are found in connection strings, parameters, `.env`, JSON,
    /// YAML and INI text (the value is what is masked); prose about passwords, placeholders and
    /// words that only end in `pass` are not.
    @Test func passwordsInSettingsAreFoundAndProseAboutThemIsNot() {
        let secrets = PIIDetector(entities: Set(PIIDetector.Entity.secrets))
        func values(_ text: String) -> [String] {
            let bytes = Array(text.utf8)
            return secrets.findings(in: bytes, context: []).filter { $0.entity == "password" }
                .map { String(decoding: bytes[$0.range], as: UTF8.self) }
        }
        let settings: [(String, String)] = [
            ("Server=tcp:sql.example.net,1433;Database=crm;User ID=sa;Password=S3cr3tPass;", "S3cr3tPass"),
            ("Data Source=db01;Initial Catalog=Shop;User Id=app;Pwd=Tr0ub4dor&3;", "Tr0ub4dor&3"),
            ("jdbc:postgresql://db.internal:5432/app?user=admin&password=hunter22&ssl=true", "hunter22"),
            ("DB_PASSWORD=correct-horse-battery\nDB_USER=app", "correct-horse-battery"),
            ("spring.datasource.password = q9Zx!2", "q9Zx!2"),
            (#"{"user": "app", "password": "p@ss w0rd!"}"#, "p@ss w0rd!"),
            ("db:\n  user: app\n  password: Xy7#kLm2\n  host: db01", "Xy7#kLm2"),
            ("[mysql]\npasswd: abc123\n", "abc123"),
            ("export MYSQL_ROOT_PASSWORD='rootpw99'", "rootpw99"),
            ("smtp_pass=mailpw42", "mailpw42"),
        ]
        for (text, value) in settings { #expect(values(text) == [value], "\(text)") }
        let prose = [
            "Password: must be at least 8 characters long", "Please reset your password, then log in again.",
            "password=<your password here>", "DB_PASSWORD=${DB_PASSWORD}", "password: ********", "password = null", "password: required",
            "bypass=true and compass=north", "the passwords don't match", #"{"password": ""}"#, "password=xxx",
            "My password: is it safe to reuse it?",
        ]
        for text in prose { #expect(values(text).isEmpty, "\(text): \(values(text))") }
        // SQLAlchemy's `dialect+driver://` URLs are connection strings like their dialect's.
        for text in ["mssql+pyodbc://app:S3cr3tPass@db01/erp?driver=ODBC+Driver+17", "engine = create_engine('postgresql+psycopg2://app:pw123@db01:5432/erp')"] {
            #expect(secrets.findings(in: Array(text.utf8), context: []).map(\.entity) == ["connection_string"], "\(text)")
        }
        for text in ["price+tax: 5 euros", "c++://not-a-scheme", "postgresql+psycopg2://db01:5432/erp (no password)"] {
            #expect(secrets.findings(in: Array(text.utf8), context: []).isEmpty, "\(text)")
        }
        // The URL form is still a connection string, once.
        let url = Array("postgres://app:S3cr3t@db01:5432/erp?password=S3cr3t".utf8)
        #expect(secrets.findings(in: url, context: []).map(\.entity) == ["connection_string"])
    }

    /// An address whose `@` is percent-encoded (a URL's query) is an e-mail address too.
    @Test func percentEncodedEmailAddressesAreFound() {
        for (text, address) in [
            ("GET /signup?email=dawn50%40example.com&plan=pro HTTP/1.1", "dawn50%40example.com"),
            ("https://example.org/unsubscribe?u=jo.o%2Bnews%40mail.example.co.uk", "jo.o%2Bnews%40mail.example.co.uk"),
            ("note=forward%20the%20list%20to%20audit%40exfil-mail.example%20now", "audit%40exfil-mail.example"),
        ] {
            let bytes = Array(text.utf8)
            let found = Self.detector.findings(in: bytes, context: []).filter { $0.entity == "email" }
            #expect(found.map { String(decoding: bytes[$0.range], as: UTF8.self) } == [address], "\(text)")
        }
        for text in ["a 40% discount%40 off", "progress: 100%40 items", "%40example.com alone", "sales up 12%40.5 points"] {
            #expect(!Self.entities(text).contains("email"), "\(text)")
        }
    }

    /// Dotted numbers in a national plan's own shape are phones without a label (a US number
    /// `417.495.5833`, a French `06.91.81.67.11`), unless a label says they are something else;
    /// other dotted numbers (versions, decimals, dates, NANP-invalid groups) still need one.
    @Test func dottedNationalNumbersAreFoundAndOtherDottedNumbersAreNot() {
        for text in [#""value": "417.495.5833""#, "VALUES ('Ann', '443.588.2661')", "Appelez le 06.91.81.67.11 demain", "ring 779.631.0012x7557"] {
            #expect(Self.entities(text).contains("phone"), "\(text)")
        }
        for text in [
            "order 417.495.5833", "build 417.495.5833 shipped", "tracking 06.12.34.56.78", "ratio 123.456.7890", "area 911.555.1234",
            "dated 12.05.2024", "version 1.2.3", "see 2.10.2024 notes", "total 1.234.5678",
        ] {
            #expect(!Self.entities(text).contains("phone"), "\(text)")
        }
    }

    /// A trace, span or session id that happens to pass Luhn with a card issuer's prefix is no
    /// card; the same number labelled as a card, or unlabelled, still is.
    @Test func recordIdentifiersThatPassLuhnAreNoCards() {
        for text in ["trace=5371224786185625 span=12", "traceId: 4111111111111111", "session 4012888888881881 expired", "correlation id 5371224786185625"] {
            #expect(!Self.entities(text).contains("credit_card"), "\(text)")
        }
        for text in ["card 5371224786185625", "paid with 4111111111111111 yesterday", "trace=abc, card: 4012888888881881"] {
            #expect(Self.entities(text).contains("credit_card"), "\(text)")
        }
    }

    /// A phone candidate's digit groups live in two words: sixteen of them read back in order
    /// (sizes up to 255), a seventeenth is not kept, and the shape tests read what an array would.
    @Test func digitGroupsReadBackAsAppended() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let sizes = (0..<Int.random(in: 0...17, using: &generator)).map { _ in Int.random(in: 1...300, using: &generator) }
            var groups = PIIDetector.Scanner.GroupSizes()
            for size in sizes { groups.append(size) }
            let kept = Array(sizes.prefix(16)).map { min($0, 255) }
            #expect(groups.count == kept.count)
            #expect((0..<groups.count).map { groups[$0] } == kept)
            #expect(groups.allSatisfy(from: 1) { $0 <= 100 } == kept.dropFirst().allSatisfy { $0 <= 100 })
        }
        var nanp = PIIDetector.Scanner.GroupSizes()
        for size in [1, 3, 3, 4] { nanp.append(size) }
        #expect(nanp.are(1, 3, 3, 4) && !nanp.are(3, 3, 4) && !nanp.are(1, 3, 3, 5))
        var ssn = PIIDetector.Scanner.GroupSizes()
        for size in [3, 2, 4] { ssn.append(size) }
        #expect(ssn.are(3, 2, 4) && !ssn.are(3, 2, 4, 0) && PIIDetector.Scanner.readsAsDate(ssn) == false)
    }

    /// The street scanner's words before the house number, read through one table, end where
    /// reading them word by word with the per-byte test ends, on random texts of capitalised and
    /// lowercase words, street endings, digits, single and double spaces, punctuation and UTF-8.
    @Test func streetWordsEndWhereTheWordByWordReadingEnds() {
        func at(_ bytes: [UInt8], _ index: Int) -> UInt8 { index >= 0 && index < bytes.count ? bytes[index] : 0 }
        func alpha(_ byte: UInt8) -> Bool { (byte | 0x20) &- 0x61 < 26 }
        func reference(_ bytes: [UInt8], _ index: Int) -> Int? {
            var end = index
            for _ in 0..<3 {
                while end < bytes.count, alpha(bytes[end]) || bytes[end] >= 0x80 || bytes[end] == UInt8(ascii: "-") || bytes[end] == UInt8(ascii: ".") {
                    end += 1
                }
                if at(bytes, end) == UInt8(ascii: " "), at(bytes, end + 1) &- 0x30 < 10 { return end }
                guard at(bytes, end) == UInt8(ascii: " "), alpha(at(bytes, end + 1)) || at(bytes, end + 1) >= 0x80 else { return nil }
                end += 1
            }
            return nil
        }
        let pieces = ["Haupt", "straße", "weg", "Am", "Alten", "Markt", "a", "Ring", "str.", "-", "ü", "5", "27/17", "12", " ", " ", " ", "  ", ",", "\n", "x"]
            .map { Array($0.utf8) }
        var generator = SystemRandomNumberGenerator()
        var found = 0
        for _ in 0..<6000 {
            var text: [UInt8] = []
            for _ in 0..<Int.random(in: 1...14, using: &generator) { text += pieces.randomElement(using: &generator)! }
            for index in text.indices {
                let end = PIIDetector.Scanner.streetWordsEnd(text, from: index, PIIDetector.Scanner.Tables.shared.streetBytes)
                #expect(end == reference(text, index), "\(String(decoding: text, as: UTF8.self)) at \(index)")
                if end != nil { found += 1 }
            }
        }
        #expect(found > 1000)
        #expect(Self.entities("Ich wohne in der Hauptstraße 5 in Berlin.").contains("address"))
        #expect(Self.entities("Treffpunkt: Am Alten Markt 12, dann weiter").contains("address"))
        #expect(!Self.entities("Wir fahren nach Hauptstraße, dann 5 Minuten zu Fuß").contains("address"))
    }

    /// The secrets detector passes over words that start with a digit, and capitalised words
    /// that start no secret scanner and have no IBAN's shape, without scanning them: on random
    /// texts of keys, IBAN-shaped tokens (some glued to what follows), capitals, digits and
    /// connection strings it finds exactly what the scan of every word start finds.
    @Test func theSecretsDetectorSkipsNumberWordsWithoutMissingAnything() {
        let wanted = PIIDetector.Entity.secrets.reduce(UInt32(0)) { $0 | $1.bit }
        let pieces = [
            "AKIA", "AKIAIOSFODNN7EXAMPLE", "ASIA", "AIza", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "00abcdef", "Q3",
            "sk-proj-", "abc123DEF456ghi789JKL0", "ghp_", "postgres://user:pw@db:5432/app", "Basic", "Bearer", "xoxb-", "Token", "NL91",
            "4111", "2024", " ", " ", " ", "\n", ",", ":", "=", "/", "+", "-", "-----BEGIN RSA PRIVATE KEY-----", "Mongodb+srv://a:b@c",
        ].map { Array($0.utf8) }
        var generator = SystemRandomNumberGenerator()
        var found = 0
        var shortcuts = 0
        for _ in 0..<4000 {
            var text: [UInt8] = []
            for _ in 0..<Int.random(in: 1...24, using: &generator) { text += pieces.randomElement(using: &generator)! }
            var fast = PIIDetector.Scanner(bytes: text, base: 0, wanted: wanted)
            var full = PIIDetector.Scanner(bytes: text, base: 0, wanted: wanted)
            // (A text with a run of 40 key bytes may hold an AWS secret key: no shortcut.)
            if fast.lettersOnly { shortcuts += 1 }
            full.lettersOnly = false
            fast.run()
            full.run()
            #expect(fast.found.map { "\($0.entity)@\($0.range)" } == full.found.map { "\($0.entity)@\($0.range)" }, "\(String(decoding: text, as: UTF8.self))")
            found += fast.found.count
        }
        #expect(found > 1000 && shortcuts > 1000)
    }

    @Test func theSkippingRunSearchAgreesWithCountingEveryByte() {
        func counted(_ bytes: [UInt8], _ length: Int) -> Bool {
            var run = 0
            for byte in bytes {
                run = PIIDetector.Scanner.runMasks[Int(byte)] != 0 ? run + 1 : 0
                if run >= length { return true }
            }
            return false
        }
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ019/+".utf8)
        let breaks = Array(" .,-_\n\"=:é".utf8)
        var runs = 0
        for _ in 0..<4000 {
            var text: [UInt8] = []
            // Runs of 0...45 key bytes between one to three other bytes, up to ~300 bytes.
            while text.count < Int.random(in: 0...300, using: &generator) {
                let run = Int.random(in: 0...45, using: &generator)
                text += (0..<run).map { _ in alphabet.randomElement(using: &generator)! }
                text += (0..<Int.random(in: 1...3, using: &generator)).map { _ in breaks.randomElement(using: &generator)! }
            }
            if Bool.random(using: &generator) { text.removeLast(min(text.count, Int.random(in: 0...3, using: &generator))) }
            for length in [1, 2, 39, 40, 41] {
                let expected = counted(text, length)
                if expected && length == 40 { runs += 1 }
                #expect(PIIDetector.Scanner.hasRun(of: length, in: text) == expected, "length \(length): \(String(decoding: text, as: UTF8.self))")
            }
        }
        #expect(runs > 100, "the generated texts should hold 40-byte runs often")
        #expect(PIIDetector.Scanner.hasRun(of: 40, in: Array(repeating: UInt8(ascii: "a"), count: 40)))
        #expect(!PIIDetector.Scanner.hasRun(of: 40, in: Array(repeating: UInt8(ascii: "a"), count: 39)))
        #expect(!PIIDetector.Scanner.hasRun(of: 40, in: []))
    }
}

/// Numbers and addresses written in other scripts' digits or in full-width forms are found like
/// their ASCII spelling, and the findings cover the original characters (so masking removes them).
@Suite struct PIIFoldedDigitsTests {
    static let detector = PIIDetector(entities: Set(PIIDetector.Entity.allCases))

    static func found(_ text: String) -> [(entity: String, text: String)] {
        let bytes = Array(text.utf8)
        return detector.findings(in: bytes, context: []).map { ($0.entity, String(decoding: bytes[$0.range], as: UTF8.self)) }
    }

    @Test(arguments: [
        ("My card is ４１１１ １１１１ １１１１ １１１１, thanks", "credit_card", "４１１１ １１１１ １１１１ １１１１"),
        ("Phone: +٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨", "phone", "+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨"),
        ("Phone: ০১১৭৪২১৮০৯৬ (evenings)", "phone", "০১১৭৪২১৮০৯৬"),
        ("mobile ०९८७६५४३२१०", "phone", "०९८७६५४३२१०"),
        ("write to ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ today", "email", "ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
        ("SSN: ０７８-０５-１１２０", "ssn", "０７８-０５-１１２０"),
    ])
    func foldedValuesAreFoundWithTheirOriginalRange(_ text: String, _ entity: String, _ value: String) {
        let found = Self.found(text)
        #expect(found.contains { $0.entity == entity && $0.text == value }, "\(found)")
    }

    @Test func contextBeforeAFoldedValueKeepsRangesRelativeToTheText() {
        let context = Array("Phone: ".utf8)
        let text = Array("٠٢٠ ٧٩٤٦ ٠٩٥٨ please".utf8)
        let findings = Self.detector.findings(in: text, context: context)
        #expect(findings.count == 1)
        if let first = findings.first {
            #expect(String(decoding: text[first.range], as: UTF8.self) == "٠٢٠ ٧٩٤٦ ٠٩٥٨")
        }
    }

    @Test(arguments: ["اشتريت ٣ تفاحات و ١٢ برتقالة", "Ｔｈｅ ｍｅｅｔｉｎｇ ｉｓ ａｔ ３ ｐｍ", "価格は１２００円です"])
    func ordinaryTextInOtherScriptsIsNotFlagged(_ text: String) {
        #expect(Self.found(text).isEmpty, "\(Self.found(text))")
    }
}
