import ArgumentParser
import Foundation
import SwitchyardServer

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert another gateway's configuration into a Switchyard configuration.",
        subcommands: [ImportLiteLLM.self]
    )
}

struct ImportLiteLLM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "litellm",
        abstract: "Convert a LiteLLM proxy config.yaml into a Switchyard configuration.",
        discussion: """
            Writes the Switchyard configuration (YAML) to OUT or standard output and lists, on \
            standard error, every LiteLLM setting it could not map and why ("not mapped: PATH: \
            REASON"), and what an operator must do ("note: ..."). os.environ/NAME becomes \
            env:NAME for secrets; other settings given as os.environ/NAME take the variable's \
            value at import time when it is set. Check the result with 'switchyard check-config'. \
            Exit status 0 when a configuration was written, 1 when FILE cannot be read.
            """
    )

    @Argument(help: "The LiteLLM configuration file.")
    var file: String

    @Option(name: .shortAndLong, help: "Write the Switchyard configuration here instead of standard output.")
    var output: String?

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            FileHandle.standardError.write(Data("\(file): cannot be read as UTF-8 text\n".utf8))
            throw ExitCode(1)
        }
        let result: LiteLLMImport.Result
        do {
            result = try LiteLLMImport.convert(yaml: text, source: file, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
            throw ExitCode(1)
        }
        for finding in result.findings {
            FileHandle.standardError.write(Data("\(file): \(finding)\n".utf8))
        }
        let summary =
            "\(file): converted \(result.modelCount) model(s) on \(result.providerCount) provider(s); "
            + "\(result.findings.filter { $0.kind == .notMapped }.count) setting(s) not mapped\n"
        if let output {
            do {
                try Data(result.yaml.utf8).write(to: URL(fileURLWithPath: output))
            } catch {
                FileHandle.standardError.write(Data("\(output): cannot be written: \(error.localizedDescription)\n".utf8))
                throw ExitCode(1)
            }
        } else {
            FileHandle.standardOutput.write(Data(result.yaml.utf8))
        }
        FileHandle.standardError.write(Data(summary.utf8))
    }
}
