import SwitchyardCore

/// Rerank v2 (`/v2/rerank`): the gateway's rerank body (Cohere's own shape, as Jina and vLLM
/// take it) to what v2 accepts, and the answer back with what v2 dropped put back.
public enum CohereRerank {
    /// v2 takes documents as strings: a `{"text": ...}` document is sent as its text, any other
    /// object as its JSON (Cohere's advice for structured documents). `return_documents` is the
    /// gateway's to honour: v2 no longer echoes documents.
    public static func request(fromGateway bytes: [UInt8], model: String) throws(GatewayError) -> (body: JSONValue, documents: [String]?) {
        guard let request = (try? JSONValue.parse(bytes))?.objectValue else { throw GatewayError.invalidJSON("the body must be a JSON object") }
        let documents: [String] = (request["documents"]?.arrayValue ?? []).map { document in
            if let text = document.stringValue { return text }
            if let text = document["text"]?.stringValue { return text }
            return document.serialized()
        }
        var body: JSONObject = ["model": .string(model), "query": request["query"] ?? .string(""), "documents": .array(documents.map(JSONValue.string))]
        // `mock`: the mock provider's knobs travel as they do for chat.
        for field in ["top_n", "max_tokens_per_doc", "mock"] {
            if let value = request[field], value != .null { body[field] = value }
        }
        return (.object(body), request["return_documents"]?.boolValue == true ? documents : nil)
    }

    /// Cohere's answer with `model`, the documents when asked for, and `usage` when Cohere
    /// reports tokens (`meta.tokens.input_tokens`); without it the gateway counts the prompt.
    /// `meta` (with `billed_units.search_units`) is kept.
    public static func response(fromCohere bytes: [UInt8], model: String, documents: [String]?) throws(GatewayError) -> JSONValue {
        guard var response = (try? JSONValue.parse(bytes))?.objectValue, let results = response["results"]?.arrayValue else {
            throw GatewayError.upstreamUnavailable("The provider's response could not be translated.", code: .upstreamInvalidResponse)
        }
        if let documents {
            response["results"] = .array(
                results.map { result in
                    guard var object = result.objectValue, let index = object["index"]?.intValue, documents.indices.contains(index) else { return result }
                    object["document"] = ["text": .string(documents[index])]
                    return .object(object)
                })
        }
        response["model"] = .string(model)
        if let tokens = response["meta"]?["tokens"]?["input_tokens"]?.intValue ?? response["meta"]?["billed_units"]?["input_tokens"]?.intValue {
            response["usage"] = ["prompt_tokens": JSONValue(tokens), "total_tokens": JSONValue(tokens)]
        }
        return .object(response)
    }
}
