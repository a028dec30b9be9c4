import Benchmark
import NIOCore
import SwitchyardCore

// Micro-benchmarks of the request path's CPU-bound pieces, through SwitchyardCore's public API
// only. One iteration is one operation (one request body, one whole 50-chunk stream, one
// prompt), so `mallocCountTotal` reads as allocations per operation. See README.md.

/// Regression tolerances, used by `baseline check` (two runs compared) and `thresholds check`
/// (a run against the committed p90 values in Thresholds/).
enum Tolerance {
    /// Time moves with the machine and its load: only a clear slowdown of the median counts
    /// (the tail follows whatever else the machine runs).
    static var time: BenchmarkThresholds { BenchmarkThresholds(relative: [.p50: 20]) }
    /// Allocations per operation are exact (every sample of a run has the same count): any new
    /// one is a regression.
    static var mallocs: BenchmarkThresholds { BenchmarkThresholds(absolute: [.p50: 0, .p90: 0]) }

    static var all: [BenchmarkMetric: BenchmarkThresholds] {
        [.wallClock: time, .throughput: time, .mallocCountTotal: mallocs]
    }
}

/// The upstream model name the pass-through rewrite puts into the body.
let upstreamModel = "gpt-4o-mini"

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 20,
        maxDuration: .seconds(1),
        maxIterations: 20_000,
        thresholds: Tolerance.all
    )

    jsonBenchmarks()
    streamBenchmarks()
    dialectBenchmarks()
    detectorBenchmarks()
}

// MARK: - JSON: the request scan and the tree parser

func jsonBenchmarks() {
    // What every pass-through request costs before it goes upstream: the one-pass scan and
    // validation of the top-level fields, then the body with `model` rewritten.
    Benchmark("OpenAIRequest.chat") { benchmark in
        for _ in benchmark.scaledIterations {
            let request = try! OpenAIRequest(endpoint: .chatCompletions, body: Inputs.chatRequest)
            blackHole(request.upstreamBody(upstreamModel: upstreamModel))
        }
    }

    // The streaming variant: `stream_options.include_usage` is added as well.
    Benchmark("OpenAIRequest.chatStream") { benchmark in
        for _ in benchmark.scaledIterations {
            let request = try! OpenAIRequest(endpoint: .chatCompletions, body: Inputs.chatStreamRequest)
            blackHole(request.upstreamBody(upstreamModel: upstreamModel))
        }
    }

    // The scan alone, on the request and on the upstream's answer (where the gateway reads usage).
    Benchmark("JSONObjectScan.chatRequest") { benchmark in
        for _ in benchmark.scaledIterations {
            let scan = try! JSONObjectScan(Inputs.chatRequest)
            blackHole(scan.string("model"))
            blackHole(scan.bool("stream"))
        }
    }

    Benchmark("JSONObjectScan.chatCompletion") { benchmark in
        for _ in benchmark.scaledIterations {
            let scan = try! JSONObjectScan(Inputs.openAICompletion)
            blackHole(scan.value("usage"))
        }
    }

    // The full tree, as the translators and guardrails build it, and back to bytes.
    Benchmark("JSONValue.parse.chatRequest") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! JSONValue.parse(Inputs.chatRequest))
        }
    }

    let parsedRequest = try! JSONValue.parse(Inputs.chatRequest)
    Benchmark("JSONValue.serialize.chatRequest") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(parsedRequest.serializedBytes())
        }
    }
}

// MARK: - SSE: parser, relay and stream translation (one whole 50-chunk stream per iteration)

func streamBenchmarks() {
    Benchmark("SSEParser.stream50") { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = SSEParser()
            var events = 0
            for read in Inputs.openAIStream {
                try! parser.feed(read) { event in
                    events += 1
                    blackHole(event)
                }
            }
            blackHole(parser.finish())
            precondition(events == 54)
        }
    }

    // Same dialect: forwarded event by event, the forced usage chunk learnt and dropped.
    relayBenchmark("OpenAIStreamRelay.stream50", encoder: nil)
    // An Anthropic client on an OpenAI-dialect model: every chunk re-encoded as Messages events.
    relayBenchmark("OpenAIStreamRelay.toAnthropic.stream50", encoder: .anthropic(AnthropicStreamEncoder(requestID: "req_bench")))

    // Anthropic and Gemini upstreams: their streams decoded into canonical OpenAI chunks.
    Benchmark("AnthropicStreamDecoder.stream50") { benchmark in
        var output = ByteBuffer()
        output.reserveCapacity(4096)
        for _ in benchmark.scaledIterations {
            var decoder = AnthropicStreamDecoder(created: 1_700_000_000)
            pump(Inputs.anthropicStream, into: &output) { try! decoder.feed($0, into: &$1) }
            precondition(decoder.finished)
        }
    }

    Benchmark("GeminiStreamDecoder.stream50") { benchmark in
        var output = ByteBuffer()
        output.reserveCapacity(4096)
        for _ in benchmark.scaledIterations {
            var decoder = GeminiStreamDecoder(created: 1_700_000_000, seed: 42)
            pump(Inputs.geminiStream, into: &output) { try! decoder.feed($0, into: &$1) }
            decoder.finish(into: &output)
            emit(&output)
        }
    }
}

/// The whole 50-chunk OpenAI stream through a fresh relay per iteration, ended as the gateway
/// ends a stream whose upstream finished (`[DONE]`, or the encoder's closing events).
func relayBenchmark(_ name: String, encoder: ClientStreamEncoder?) {
    Benchmark(name) { benchmark in
        var output = ByteBuffer()
        output.reserveCapacity(4096)
        for _ in benchmark.scaledIterations {
            var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "bench")
            relay.encoder = encoder
            pump(Inputs.openAIStream, into: &output) { relay.consume($0, into: &$1) }
            _ = relay.finishUpstream()
            relay.writeClientEnd(into: &output)
            emit(&output)
            precondition(relay.usage != nil && relay.state == .done)
        }
    }
}

/// Feeds each upstream read and emits what the client gets after each, as the gateway's stream
/// loop does.
@inline(__always)
func pump(_ reads: [ByteBuffer], into output: inout ByteBuffer, _ feed: (ByteBuffer, inout ByteBuffer) -> Void) {
    for read in reads {
        feed(read, &output)
        emit(&output)
    }
}

/// A stand-in for the write to the client's socket: the bytes are used, the buffer reused.
@inline(__always)
func emit(_ output: inout ByteBuffer) {
    blackHole(output)
    output.clear()
}

// MARK: - Dialect translators (non-streaming), each including the serialisation it is sent as

func dialectBenchmarks() {
    // Inbound: an Anthropic client's request to the canonical body, and the answer back.
    Benchmark("AnthropicRequestTranslator.messages") { benchmark in
        for _ in benchmark.scaledIterations {
            let translated = try! AnthropicRequestTranslator.translate(Inputs.messagesRequest)
            blackHole(translated.body.serializedBytes())
        }
    }

    Benchmark("AnthropicResponseTranslator.message") { benchmark in
        for _ in benchmark.scaledIterations {
            let message = try! AnthropicResponseTranslator.message(fromOpenAI: Inputs.openAICompletion, requestID: "req_bench")
            blackHole(message.serializedBytes())
        }
    }

    // Outbound: the canonical request to an Anthropic or Gemini upstream, and its answer back.
    Benchmark("AnthropicOutbound.request") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! AnthropicOutbound.request(fromOpenAI: Inputs.chatRequest).serializedBytes())
        }
    }

    Benchmark("AnthropicOutbound.completion") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! AnthropicOutbound.completion(fromAnthropic: Inputs.anthropicMessage, created: 1_700_000_000).serializedBytes())
        }
    }

    Benchmark("GeminiOutbound.request") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! GeminiOutbound.request(fromOpenAI: Inputs.chatRequest).serializedBytes())
        }
    }

    Benchmark("GeminiOutbound.completion") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! GeminiOutbound.completion(fromGemini: Inputs.geminiResponse, created: 1_700_000_000).serializedBytes())
        }
    }
}

// MARK: - Detectors and the tokenizer, on the ~1 KB prompt with personal data

func detectorBenchmarks() {
    // The `pii` and `secrets` detectors; the prompt has findings for both.
    for (name, entities) in [("personal", PIIDetector.Entity.personal), ("secrets", PIIDetector.Entity.secrets)] {
        let detector = PIIDetector(entities: Set(entities))
        Benchmark("PIIDetector.\(name).1KB") { benchmark in
            for _ in benchmark.scaledIterations {
                let findings = detector.findings(in: Inputs.piiPrompt, context: [])
                precondition(!findings.isEmpty)
                blackHole(findings)
            }
        }
    }

    let injection = InjectionDetector()
    Benchmark("InjectionDetector.1KB") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(injection.findings(in: Inputs.piiPrompt, context: [], role: "user"))
        }
    }

    // The wrk guardrails arm's rules (PII masked, credentials and injection blocking), compiled
    // into an engine as a configuration generation is: every rail's detector, its threshold,
    // and the masked text when the PII rail fires.
    var settings = GuardrailSettings()
    var maskPII = GuardrailRule(name: "pii", detector: .pii)
    maskPII.action = .mask
    settings.rules = [maskPII, GuardrailRule(name: "secrets", detector: .secrets), GuardrailRule(name: "injection", detector: .injection)]
    let engine = GuardrailEngine(settings: settings)
    Benchmark("GuardrailEngine.input.1KB") { benchmark in
        for _ in benchmark.scaledIterations {
            var text = Inputs.piiPrompt
            for rail in engine.rails {
                let fired = rail.triggered(rail.detector!.findings(in: text, context: [], role: "user"))
                if !fired.isEmpty, rail.rule.action == .mask { text = GuardrailEngine.mask(text, fired) }
                blackHole(fired)
            }
            blackHole(text)
        }
    }

    // Prompt-token counting (budget reservations, usage when a provider reports none); each
    // vocabulary is loaded before the measurement starts.
    for name in ["o200k_base", "cl100k_base"] {
        Benchmark("Tokenizer.\(name.prefix(while: { $0 != "_" })).count.1KB") { benchmark in
            let encoding = Tokenizers.encoding(named: name)!
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let count = encoding.count(Inputs.piiPromptString)
                precondition(count > 150)
                blackHole(count)
            }
        }
    }
}
