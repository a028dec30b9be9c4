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

    @Test func phoneColumnsAndOrderColumnsDecideFromTheirHeader() {
        let csv = "name,order_id,phone\nAda,4821 5567 9034,4821 5567 9034\n"
        let bytes = Array(csv.utf8)
        let found = Self.detector.findings(in: bytes, context: []).filter { $0.entity == "phone" }
        #expect(found.count == 1)
        if let first = found.first {
            #expect(first.range.lowerBound > csv.utf8.count - 16, "only the phone column's value")
        }
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
}
