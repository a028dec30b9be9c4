import ArgumentParser
import Foundation
import SwitchyardCore
import SwitchyardServer

struct GuardrailsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guardrails",
        abstract: "Try guardrails on a text, and measure what they cost.",
        subcommands: [Check.self, Bench.self]
    )

    /// The configured guardrails, or the built-in detectors with defaults when none are.
    static func rails(config: String?, detectors: [String]) throws -> [GuardrailEngine.Rail] {
        var settings = GuardrailSettings()
        if !detectors.isEmpty {
            for name in detectors {
                guard let detector = GuardrailRule.Detector(rawValue: name), [.pii, .secrets, .injection, .content].contains(detector) else {
                    FileHandle.standardError.write(Data("unknown detector '\(name)': use pii, secrets, injection or content\n".utf8))
                    throw ExitCode(1)
                }
                settings.rules.append(GuardrailRule(name: name, detector: detector))
            }
        } else if let config {
            do {
                settings = try ConfigurationSource.file(config).load().config.guardrails
            } catch {
                printDiagnostics(error.diagnostics)
                throw ExitCode(1)
            }
        }
        if settings.rules.isEmpty {
            settings.rules = [.pii, .secrets, .injection, .content].map { GuardrailRule(name: $0.rawValue, detector: $0) }
        }
        return GuardrailEngine(settings: settings).rails.filter { $0.detector != nil }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run guardrails on a text and print what they find, as JSON.",
            discussion: "Uses the guardrails of --config, or the built-in detectors (--detector to choose). Webhooks are not called."
        )

        @Option(name: .shortAndLong, help: "YAML configuration file whose guardrails to run.")
        var config: String?

        @Option(name: .customLong("detector"), help: "A built-in detector to run instead: pii, secrets, injection, content (repeatable).")
        var detectors: [String] = []

        @Option(help: "Role of the text: user, or tool for a tool result (injection weighs it differently).")
        var role: String = "user"

        @Argument(help: "The text ('-' reads standard input).")
        var text: String

        func run() async throws {
            let input = text == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : text
            let bytes = Array(input.utf8)
            var results: [JSONValue] = []
            for rail in try GuardrailsCommand.rails(config: config, detectors: detectors) {
                let findings = rail.detector!.findings(in: bytes, context: [], role: role)
                let triggered = rail.triggered(findings)
                results.append([
                    "guardrail": .string(rail.rule.name), "triggered": .bool(!triggered.isEmpty), "action": .string(rail.rule.action.rawValue),
                    "findings": .array(
                        findings.map { finding in
                            [
                                "entity": .string(finding.entity), "score": JSONValue(finding.score),
                                "text": .string(String(decoding: bytes[finding.range], as: UTF8.self)),
                            ]
                        }),
                ])
            }
            print(JSONValue.array(results).serialized())
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure guardrail cost: microseconds per KB of prompt, p50 and p99, per detector.",
            discussion: """
                Runs each guardrail (those of --config, or the built-in detectors) in this process on \
                generated prompts of several sizes (prose with a few e-mail addresses, phone numbers \
                and card numbers mixed in) and prints one line per guardrail and size. This is the \
                CPU the pipeline spends per request on top of the pass-through path.
                """
        )

        @Option(name: .shortAndLong, help: "YAML configuration file whose guardrails to measure.")
        var config: String?

        @Option(name: .customLong("detector"), help: "A built-in detector to measure instead (repeatable).")
        var detectors: [String] = []

        @Option(help: "Prompt sizes in KB, comma-separated.")
        var sizes: String = "1,4,16"

        @Option(help: "Measured runs per guardrail and size.")
        var iterations: Int = 2000

        @Option(help: "Measure on the text of this file instead of generated prompts (--sizes is ignored; '-' reads standard input).")
        var file: String?

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() async throws {
            let rails = try GuardrailsCommand.rails(config: config, detectors: detectors)
            var rows: [JSONValue] = []
            let texts: [(size: Int, text: [UInt8])]
            if let file {
                guard let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
                    throw ExitCode(1)
                }
                // As a string does: bytes that are not UTF-8 are repaired.
                let text = Array(String(decoding: data, as: UTF8.self).utf8)
                texts = [((text.count + 1023) / 1024, text)]
            } else {
                texts = sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { ($0, Self.prompt(bytes: $0 * 1024)) }
            }
            if !json { print("guardrail        size    p50 µs    p99 µs    p50 µs/KB   p99 µs/KB") }
            for (size, text) in texts {
                for rail in rails {
                    let detector = rail.detector!
                    for _ in 0..<min(200, iterations) { _ = rail.triggered(detector.findings(in: text, context: [])) }
                    var samples: [Double] = []
                    samples.reserveCapacity(iterations)
                    let clock = ContinuousClock()
                    for _ in 0..<max(iterations, 10) {
                        let elapsed = clock.measure { _ = rail.triggered(detector.findings(in: text, context: [])) }
                        samples.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
                    }
                    samples.sort()
                    let p50 = samples[samples.count / 2]
                    let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
                    let kb = Double(text.count) / 1024
                    if json {
                        rows.append([
                            "guardrail": .string(rail.rule.name), "kb": JSONValue(size), "p50_us": JSONValue(p50), "p99_us": JSONValue(p99),
                            "p50_us_per_kb": JSONValue(p50 / kb), "p99_us_per_kb": JSONValue(p99 / kb),
                        ])
                    } else {
                        print(
                            rail.rule.name.padding(toLength: 14, withPad: " ", startingAt: 0)
                                + String(format: "%4d KB %9.1f %9.1f %12.1f %11.1f", size, p50, p99, p50 / kb, p99 / kb))
                    }
                }
            }
            if json { print(JSONValue.array(rows).serialized()) }
        }

        /// Prose with some personal data, deterministic.
        static func prompt(bytes: Int) -> [UInt8] {
            let sentences = [
                "Please summarise the attached quarterly report for the board meeting on Thursday.",
                "Revenue grew by 12 percent while operating costs stayed flat at 4.2 million.",
                "The customer, reachable at jane.roe@example.org or +44 20 7946 0958, asked about order 58213.",
                "Our new onboarding flow reduced the time to first value from 9 days to 3.",
                "Charge the remaining balance to card 4111 1111 1111 1111 before the end of the month.",
                "The engineering team shipped version 2.14.0 with faster search and fewer timeouts.",
                "List three risks and one mitigation for each, in plain language.",
            ]
            var text: [UInt8] = []
            var index = 0
            while text.count < bytes {
                text.append(contentsOf: sentences[index % sentences.count].utf8)
                text.append(0x20)
                index += 1
            }
            return Array(text.prefix(bytes))
        }
    }
}
