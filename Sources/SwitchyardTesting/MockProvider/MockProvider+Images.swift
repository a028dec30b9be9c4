import Foundation
import NIOCore
import SwitchyardCore

/// Images in Google's and Bedrock's own shapes: Imagen's `:predict`, Gemini image models'
/// `generateContent` with `responseModalities: ["TEXT", "IMAGE"]`, and Bedrock InvokeModel for
/// Titan Image Generator / Nova Canvas (`taskType: TEXT_IMAGE`) and Stability (`prompt`). Images
/// are the mock's small real PNGs, their colour taken from the prompt (and any input image); a
/// prompt containing "forbidden" is held back as the providers' safety filters do.
extension MockProvider {
    /// Tokens a Gemini image model bills per image it makes (Gemini 2.5 Flash Image's count).
    public static let geminiImageTokens = 1290

    static func isFiltered(_ prompt: String) -> Bool { prompt.lowercased().contains("forbidden") }

    static func base64PNG(_ seed: String) -> String { Data(png(for: seed)).base64EncodedString() }

    /// Imagen `:predict`: `sampleCount` predictions, or one `raiFilteredReason` for a filtered prompt.
    func imagenPlan(_ request: JSONObject, behaviour: MockBehaviour) -> Plan {
        guard let prompt = request["instances"]?.arrayValue?.first?["prompt"]?.stringValue else {
            return geminiError(status: 400, message: "Invalid JSON payload received. instances[0].prompt is required.")
        }
        let count = request["parameters"]?["sampleCount"]?.intValue ?? 4
        guard (1...4).contains(count) else { return geminiError(status: 400, message: "sampleCount must be between 1 and 4.") }
        let ratio = request["parameters"]?["aspectRatio"]?.stringValue ?? "1:1"
        guard ["1:1", "3:4", "4:3", "9:16", "16:9"].contains(ratio) else { return geminiError(status: 400, message: "Unsupported aspect ratio.") }
        if Self.isFiltered(prompt) {
            return jsonPlan(
                ["predictions": [["raiFilteredReason": "Your current safety filter threshold filtered out the generated images."]]],
                behaviour: behaviour)
        }
        let mime = request["parameters"]?["outputOptions"]?["mimeType"]?.stringValue ?? "image/png"
        let predictions: [JSONValue] = (0..<count).map { index in
            ["bytesBase64Encoded": .string(Self.base64PNG(prompt + ratio + "\(index)")), "mimeType": .string(mime)]
        }
        return jsonPlan(["predictions": .array(predictions)], behaviour: behaviour)
    }

    /// Gemini image models: a short text part and one `inlineData` PNG (its colour from the
    /// prompt and the input images), billed `geminiImageTokens` output tokens.
    func geminiImagePlan(_ request: JSONObject, bodyBytes: Int, behaviour: MockBehaviour) -> Plan {
        let parts = request["contents"]?.arrayValue?.last?["parts"]?.arrayValue ?? []
        let prompt = parts.compactMap { $0["text"]?.stringValue }.joined(separator: " ")
        let inputs = parts.compactMap { $0["inlineData"]?["data"]?.stringValue }
        if let ratio = request["generationConfig"]?["imageConfig"]?["aspectRatio"]?.stringValue,
            !["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"].contains(ratio)
        {
            return geminiError(status: 400, message: "Unsupported aspect ratio: \(ratio).")
        }
        let promptTokens = Self.approximateTokens(bodyBytes)
        if Self.isFiltered(prompt) {
            return jsonPlan(
                [
                    "candidates": [["finishReason": "IMAGE_SAFETY", "index": 0]],
                    "usageMetadata": ["promptTokenCount": JSONValue(promptTokens), "totalTokenCount": JSONValue(promptTokens)],
                ], behaviour: behaviour)
        }
        let image = Self.base64PNG(prompt + inputs.joined())
        let answer: JSONValue = [
            "candidates": [
                [
                    "content": [
                        "role": "model",
                        "parts": [
                            ["text": .string(inputs.isEmpty ? "Here is the image." : "Here is the edited image.")],
                            ["inlineData": ["mimeType": "image/png", "data": .string(image)]],
                        ],
                    ],
                    "finishReason": "STOP", "index": 0,
                ]
            ],
            "usageMetadata": [
                "promptTokenCount": JSONValue(promptTokens), "candidatesTokenCount": JSONValue(Self.geminiImageTokens),
                "totalTokenCount": JSONValue(promptTokens + Self.geminiImageTokens),
            ],
        ]
        return jsonPlan(answer, behaviour: behaviour)
    }

    /// Bedrock InvokeModel for image models; nil when the body is not an image request.
    func bedrockImagePlan(_ request: JSONObject, behaviour: MockBehaviour) -> Plan? {
        if request["taskType"]?.stringValue == "TEXT_IMAGE" {
            guard let prompt = request["textToImageParams"]?["text"]?.stringValue, !prompt.isEmpty else {
                return bedrockError(status: 400, type: "ValidationException", message: "Malformed input request: textToImageParams.text is required.")
            }
            let config = request["imageGenerationConfig"]
            let count = config?["numberOfImages"]?.intValue ?? 1
            guard (1...5).contains(count) else {
                return bedrockError(status: 400, type: "ValidationException", message: "numberOfImages must be between 1 and 5.")
            }
            if Self.isFiltered(prompt) {
                return bedrockError(
                    status: 400, type: "ValidationException", message: "This request has been blocked by our content filters.")
            }
            let seed = prompt + (config?["quality"]?.stringValue ?? "standard")
            return jsonPlan(["images": .array((0..<count).map { .string(Self.base64PNG(seed + "\($0)")) }), "error": .null], behaviour: behaviour)
        }
        guard let prompt = request["prompt"]?.stringValue else { return nil }
        if let ratio = request["aspect_ratio"]?.stringValue, !["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"].contains(ratio) {
            return bedrockError(status: 400, type: "ValidationException", message: "Invalid aspect_ratio.")
        }
        if Self.isFiltered(prompt) {
            return jsonPlan(["seeds": [JSONValue(42)], "finish_reasons": ["Filter reason: prompt"], "images": [.null]], behaviour: behaviour)
        }
        let image = Self.base64PNG(prompt + (request["aspect_ratio"]?.stringValue ?? "1:1"))
        return jsonPlan(["seeds": [JSONValue(42)], "finish_reasons": [.null], "images": [.string(image)]], behaviour: behaviour)
    }
}
