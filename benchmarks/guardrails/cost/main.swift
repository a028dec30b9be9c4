import Foundation
// Harness for benchmarks/guardrails/cost/run.sh: built from the detector sources alone (swiftc -O -wmo).
// usage: harness DETECTOR FILE ITERATIONS   (DETECTOR: pii | secrets | all | injection)
//        harness corpus FILE.jsonl          (every detector's decision on every text, for diffing)
let args = CommandLine.arguments
if args[1] == "corpus" {
    let pii = PIIDetector(entities: Set(PIIDetector.Entity.personal))
    let secrets = PIIDetector(entities: Set(PIIDetector.Entity.secrets))
    let injection = InjectionDetector()
    let rules = InjectionDetector(learnedWeight: 0)
    let data = FileManager.default.contents(atPath: args[2])!
    var output = ""
    for (number, line) in data.split(separator: 0x0A).enumerated() {
        let object = try! JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
        let text: [UInt8] = (object["text"] as? String).map { Array($0.utf8) } ?? Array(Data(base64Encoded: object["b64"] as! String)!)
        let role = object["role"] as? String ?? "user"
        func show(_ findings: [Finding]) -> String { findings.map { "\($0.entity)@\($0.range.lowerBound)-\($0.range.upperBound):\($0.score)" }.joined(separator: " ") }
        output += "\(number) pii[\(show(pii.findings(in: text, context: [])))] secrets[\(show(secrets.findings(in: text, context: [])))]"
        output += " inj[\(show(injection.findings(in: text, context: [], role: role)))] tool[\(show(injection.findings(in: text, context: [], role: "tool")))]"
        output += " rules[\(show(rules.findings(in: text, context: [], role: role)))]\n"
        if text.count > 40 {
            // Streams scan with context: the second half with the first as context.
            let half = text.count / 2
            output += "  ctx pii[\(show(pii.findings(in: Array(text[half...]), context: Array(text[..<half]))))] secrets[\(show(secrets.findings(in: Array(text[half...]), context: Array(text[..<half]))))]\n"
        }
    }
    _ = FileManager.default.createFile(atPath: args[3], contents: Data(output.utf8))
    exit(0)
}
let text = Array(FileManager.default.contents(atPath: args[2])!)
let iterations = Int(args[3])!
let detector: any TextDetector
switch args[1] {
case "pii": detector = PIIDetector(entities: Set(PIIDetector.Entity.personal))
case "secrets": detector = PIIDetector(entities: Set(PIIDetector.Entity.secrets))
// Every entity: what the request log's redaction runs on logged bodies.
case "all": detector = PIIDetector(entities: Set(PIIDetector.Entity.allCases))
default: detector = InjectionDetector()
}
precondition(args[1] != "injection" || InjectionLinearModel.shipped != nil)
var last: [Finding] = []
@inline(never) func once() { last = detector.findings(in: text, context: [], role: "user") }
once()
for _ in 0..<iterations { once() }
for finding in last { print(finding.entity, finding.score, String(decoding: text[finding.range], as: UTF8.self).prefix(40)) }
