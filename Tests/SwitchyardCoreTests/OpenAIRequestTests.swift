import Testing

@testable import SwitchyardCore

@Suite struct OpenAIRequestTests {
    func request(_ text: String, _ endpoint: Endpoint = .chatCompletions) throws(GatewayError) -> OpenAIRequest {
        try OpenAIRequest(endpoint: endpoint, body: Array(text.utf8))
    }

    func error(_ text: String, _ endpoint: Endpoint = .chatCompletions) -> GatewayError? {
        do {
            _ = try request(text, endpoint)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsModelStreamAndUsageFlag() throws {
        let parsed = try request(
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true},"user":"u1"}"#)
        #expect(parsed.model == "m")
        #expect(parsed.stream)
        #expect(parsed.clientWantsUsage)
        #expect(parsed.user == "u1")
    }

    @Test func namesTheFieldWithTheWrongType() {
        let cases: [(String, String)] = [
            (#"{"model":1,"messages":[]}"#, "model"),
            (#"{"model":"m","messages":"hi"}"#, "messages"),
            (#"{"model":"m","messages":[{}],"temperature":"hot"}"#, "temperature"),
            (#"{"model":"m","messages":[{}],"max_tokens":1.5}"#, "max_tokens"),
            (#"{"model":"m","messages":[{}],"stream":"yes"}"#, "stream"),
            (#"{"model":"m","messages":[{}],"tools":{}}"#, "tools"),
        ]
        for (body, field) in cases {
            let failure = error(body)
            #expect(failure?.status == 400, "\(body)")
            #expect(failure?.param == field, "\(body)")
            #expect(failure?.message.contains("'\(field)'") == true, "\(body)")
        }
    }

    @Test func requiresFieldsPerEndpoint() {
        #expect(error(#"{"messages":[{}]}"#)?.param == "model")
        #expect(error(#"{"model":"m"}"#)?.param == "messages")
        #expect(error(#"{"model":"m"}"#, .embeddings)?.param == "input")
        #expect(error(#"{"model":"m"}"#, .completions)?.param == "prompt")
        #expect(error(#"{"model":"m","messages":[]}"#)?.code == .invalidValue)
        #expect(error(#"{"model":"","messages":[{}]}"#)?.param == "model")
    }

    @Test func malformedBodiesAreInvalidJSON() {
        for body in ["", "not json", "[1]", #"{"model":"m","#] {
            let failure = error(body)
            #expect(failure?.status == 400)
            #expect(failure?.code == .invalidJSON)
        }
    }

    @Test func optionalFieldsMayBeNull() throws {
        let parsed = try request(#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":null,"stream":null,"stop":null}"#)
        #expect(!parsed.stream)
    }

    @Test func upstreamBodyRenamesModelAndForcesUsageKeepingOtherOptions() throws {
        let parsed = try request(
            #"{"model":"alias","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_obfuscation":false}}"#)
        let body = try JSONValue.parse(parsed.upstreamBody(upstreamModel: "real"))
        #expect(body["model"]?.stringValue == "real")
        #expect(body["stream_options"]?["include_usage"]?.boolValue == true)
        #expect(body["stream_options"]?["include_obfuscation"]?.boolValue == false)
        #expect(body["messages"]?.arrayValue?.first?["content"]?.stringValue == "x")
    }

    @Test func upstreamBodyIsUntouchedWhenNothingChanges() throws {
        let text = #"{"model":"m", "messages":[{"role":"user","content":"x"}], "seed": 7}"#
        let parsed = try request(text)
        #expect(parsed.upstreamBody(upstreamModel: "m") == Array(text.utf8))
    }
}
