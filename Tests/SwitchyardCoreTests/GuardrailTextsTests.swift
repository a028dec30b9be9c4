import Testing

@testable import SwitchyardCore

/// How an input guardrail reads and rewrites a request's texts.
@Suite struct GuardrailTextsTests {
    /// The label of a masked value: the entity with dots as underscores, upper-cased (the
    /// built-in names are ASCII; a configured regex may have any name).
    @Test func maskLabelsAreTheEntityUpperCased() {
        #expect(GuardrailEngine.label(for: "email") == "EMAIL")
        #expect(GuardrailEngine.label(for: "secrets.aws_access_key") == "SECRETS_AWS_ACCESS_KEY")
        #expect(GuardrailEngine.label(for: "regex.order.id-2") == "REGEX_ORDER_ID-2")
        #expect(GuardrailEngine.label(for: "regex.straße.ü") == "REGEX_STRASSE_Ü")
        #expect(GuardrailEngine.label(for: "word") == "REDACTED")
        #expect(GuardrailEngine.label(for: "content.self_harm") == "REMOVED: SELF_HARM")
        #expect(GuardrailEngine.label(for: "injection.override") == "REMOVED: PROMPT INJECTION")
        #expect(GuardrailEngine.mask(Array("mail a@b.co now".utf8), [Finding(entity: "email", range: 5..<11)]) == Array("mail [EMAIL] now".utf8))
    }

    static let bodies: [(Endpoint, String)] = [
        (.chatCompletions, #"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi é"},{"type":"image_url","image_url":{"url":"https://x/y.png"}},{"type":"text","text":"two"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"result"},{"role":"assistant","content":[{"type":"refusal","refusal":"No."}],"function_call":{"name":"g","arguments":"{}"}},{"content":"no role"}]}"#),
        (.completions, #"{"model":"m","prompt":["one","two",3]}"#),
        (.completions, #"{"model":"m","prompt":"just one"}"#),
        (.embeddings, #"{"model":"m","input":["a","b"]}"#),
        (.moderations, #"{"model":"m","input":[{"type":"text","text":"t"},{"type":"image_url","image_url":{"url":"u"}}]}"#),
        (.rerank, #"{"model":"m","query":"q","documents":["d1",{"text":"d2"},{"title":"no text"}]}"#),
        (.imageGenerations, #"{"model":"m","prompt":"a cat"}"#),
    ]

    /// An answer passes the output rails when read from its bytes exactly when the rails,
    /// applied to its tree, decide nothing: the texts of every choice (objects only, the last
    /// of keys given twice) are read, other shapes are passed over.
    @Test func answerReadFromItsBytesPassesWhereTheTreeDecidesNothing() async throws {
        var rule = GuardrailRule(name: "secrets", detector: .secrets)
        rule.direction = .output
        rule.action = .mask
        let output = GuardrailOutput(rails: [GuardrailEngine.Rail(rule)], pseudonyms: Pseudonyms(), webhook: nil, requestID: "r", model: "m")
        let key = "AKIAIOSFODNN7EXAMPLE"
        let answers: [(Endpoint, String, Bool)] = [
            (.chatCompletions, #"{"choices":[{"index":0,"message":{"role":"assistant","content":"All clear."}}]}"#, true),
            (.chatCompletions, #"{"choices":[{"index":0,"message":{"content":"fine"}},{"index":1,"message":{"content":"key \#(key)"}}]}"#, false),
            (.chatCompletions, #"{"choices":[3,null,{"message":{"content":"use \#(key) now"}}]}"#, false),
            (.chatCompletions, #"{"choices":[{"message":{"content":"\#(key)","content":"nothing"}}]}"#, true),
            (.chatCompletions, #"{"choices":[{"message":{"content":"nothing","content":"AKIAIOSFODNN7EXAMPLE"}}]}"#, false),
            (.chatCompletions, #"{"choices":[{"message":{"content":null,"tool_calls":[]}},{"message":"\#(key)"}]}"#, true),
            (.chatCompletions, #"{"choices":{"message":{"content":"\#(key)"}}}"#, true),
            (.chatCompletions, #"{"id":"x"}"#, true),
            (.completions, #"{"choices":[{"text":"see \#(key)"}]}"#, false),
            (.completions, #"{"choices":[{"text":"plain"},{"message":{"content":"\#(key)"}}]}"#, true),
        ]
        for (endpoint, json, passes) in answers {
            let bytes = Array(json.utf8)
            #expect(output.passes(try JSONObjectScan(bytes), endpoint: endpoint) == passes, "\(json)")
            var tree = try JSONValue.parse(bytes)
            #expect(await output.apply(to: &tree, endpoint: endpoint).isEmpty == passes, "\(json)")
        }
    }

    /// The texts read once and written back once are what the walk over the body visits, in
    /// its order with its roles, and replacing some of them gives the body that replacing
    /// them during the walk gives.
    @Test func textsReadOnceAndWrittenBackOnceAreTheWalksTexts() throws {
        for (endpoint, json) in Self.bodies {
            let body = try JSONValue.parse(Array(json.utf8))
            var visited: [(String, String)] = []
            var walked = body
            _ = GuardrailTexts.rewriteRequest(&walked, endpoint: endpoint) { role, text in
                visited.append((role, text))
                return nil
            }
            var texts = RequestTexts(body, endpoint: endpoint)
            #expect(texts.items.map(\.role) == visited.map(\.0), "\(endpoint)")
            #expect(texts.items.indices.map { texts.string($0) } == visited.map(\.1), "\(endpoint)")
            #expect(!texts.apply(to: &walked, endpoint: endpoint))

            // Every other text replaced, during the walk and once at the end.
            var position = 0
            var expected = body
            let changed = GuardrailTexts.rewriteRequest(&expected, endpoint: endpoint) { role, text in
                defer { position += 1 }
                return position % 2 == 0 ? "[\(role):\(text.count)]" : nil
            }
            for index in texts.items.indices where index % 2 == 0 {
                texts.replace(index, with: Array("[\(texts.items[index].role):\(texts.string(index).count)]".utf8))
            }
            var rewritten = body
            #expect(texts.apply(to: &rewritten, endpoint: endpoint) == changed, "\(endpoint)")
            #expect(rewritten == expected, "\(endpoint)")
            #expect(changed == !visited.isEmpty, "\(endpoint)")
        }
    }
}
