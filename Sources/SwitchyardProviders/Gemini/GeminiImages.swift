import Foundation
import SwitchyardCore

/// OpenAI images to Google's two image APIs and back:
/// - Imagen (`models/{model}:predict`): `{"instances": [{"prompt"}], "parameters": {"sampleCount",
///   "aspectRatio", ...}}` → `{"predictions": [{"bytesBase64Encoded", "mimeType"}]}`;
/// - Gemini image models (`models/{model}:generateContent`): the prompt (and, for edits, the
///   images as `inlineData`) with `generationConfig.responseModalities: ["TEXT", "IMAGE"]` →
///   `inlineData` parts, one call per image.
public enum GeminiImages {
    /// The aspect ratios Imagen takes.
    public static let imagenAspectRatios = ["1:1", "3:4", "4:3", "9:16", "16:9"]
    /// The aspect ratios Gemini image models take (`imageConfig.aspectRatio`).
    public static let geminiAspectRatios = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]

    /// Imagen models are served by `:predict`; other (Gemini) image models by `generateContent`.
    public static func isImagen(_ model: String) -> Bool { model.lowercased().contains("imagen") }

    /// The `:predict` body. `vertex`: Vertex AI takes `outputOptions` (JPEG and its
    /// `compressionQuality`); the Gemini API returns PNG only.
    public static func imagenRequest(_ request: OpenAIImageRequest, model: String, provider: String, vertex: Bool) throws(GatewayError) -> JSONValue {
        try request.checkOutputFormat(vertex ? ["png", "jpeg"] : ["png"], compresses: vertex, model: model, provider: provider)
        var parameters: JSONObject = ["sampleCount": JSONValue(request.count), "includeRaiReason": true]
        if let ratio = try request.aspectRatio(accepted: imagenAspectRatios, model: model, provider: provider) {
            parameters["aspectRatio"] = .string(ratio)
        }
        if let format = request.outputFormat {
            var options: JSONObject = ["mimeType": .string("image/\(format)")]
            if let compression = request.outputCompression { options["compressionQuality"] = JSONValue(compression) }
            parameters["outputOptions"] = .object(options)
        }
        return ["instances": [["prompt": .string(request.prompt)]], "parameters": .object(parameters)]
    }

    /// The OpenAI answer to a `:predict` answer; predictions held back by the safety filters
    /// (`raiFilteredReason`) are left out, and an answer with none left is refused (400
    /// `content_filter`).
    public static func imagenResponse(_ bytes: [UInt8], request: OpenAIImageRequest, provider: String, created: Int) throws(GatewayError) -> JSONValue
    {
        guard let answer = (try? JSONValue.parse(bytes))?.objectValue else {
            throw GatewayError.upstreamUnavailable(
                "Provider '\(provider)' returned an images answer that is not JSON.", code: .upstreamInvalidResponse)
        }
        let predictions = answer["predictions"]?.arrayValue ?? []
        var images: [GeneratedImage] = []
        var filtered: [String] = []
        for prediction in predictions {
            if let data = prediction["bytesBase64Encoded"]?.stringValue, !data.isEmpty {
                images.append(
                    GeneratedImage(base64: data, mimeType: prediction["mimeType"]?.stringValue, revisedPrompt: prediction["prompt"]?.stringValue))
            } else if let reason = prediction["raiFilteredReason"]?.stringValue {
                filtered.append(reason)
            }
        }
        guard !images.isEmpty else {
            throw OpenAIImages.filtered(provider: provider, reason: filtered.first ?? "no predictions")
        }
        return OpenAIImages.response(images, request: request, created: created)
    }

    /// One `generateContent` body: the prompt, then the images to edit as `inlineData`.
    public static func contentRequest(
        _ request: OpenAIImageRequest, images: [(mimeType: String, bytes: [UInt8])], model: String, provider: String
    ) throws(GatewayError) -> JSONValue {
        try request.checkOutputFormat(["png"], model: model, provider: provider)
        var parts: [JSONValue] = [["text": .string(request.prompt)]]
        for image in images {
            parts.append(["inlineData": ["mimeType": .string(image.mimeType), "data": .string(Data(image.bytes).base64EncodedString())]])
        }
        var generation: JSONObject = ["responseModalities": ["TEXT", "IMAGE"]]
        if let ratio = try request.aspectRatio(accepted: geminiAspectRatios, model: model, provider: provider) {
            generation["imageConfig"] = ["aspectRatio": .string(ratio)]
        }
        return ["contents": [["role": "user", "parts": .array(parts)]], "generationConfig": .object(generation)]
    }

    /// The finish reasons that mean the safety filters held the image back.
    static let safetyReasons: Set<String> = [
        "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_RECITATION",
    ]

    /// The images and token counts of one `generateContent` answer (thought images left out).
    /// An answer without an image is refused: 400 `content_filter` when a safety filter says
    /// so, else 502 (the model answered an images request with text only).
    public static func contentImages(_ bytes: [UInt8], provider: String) throws(GatewayError) -> (images: [GeneratedImage], input: Int, output: Int) {
        guard let answer = (try? JSONValue.parse(bytes))?.objectValue else {
            throw GatewayError.upstreamUnavailable(
                "Provider '\(provider)' returned an images answer that is not JSON.", code: .upstreamInvalidResponse)
        }
        let usage = answer["usageMetadata"]
        let input = usage?["promptTokenCount"]?.intValue ?? 0
        let output = usage?["candidatesTokenCount"]?.intValue ?? max(0, (usage?["totalTokenCount"]?.intValue ?? 0) - input)
        var images: [GeneratedImage] = []
        var text = ""
        let candidate = answer["candidates"]?.arrayValue?.first
        for part in candidate?["content"]?["parts"]?.arrayValue ?? [] where part["thought"]?.boolValue != true {
            if let inline = part["inlineData"] ?? part["inline_data"], let data = inline["data"]?.stringValue, !data.isEmpty {
                images.append(GeneratedImage(base64: data, mimeType: (inline["mimeType"] ?? inline["mime_type"])?.stringValue))
            } else if let piece = part["text"]?.stringValue {
                text += piece
            }
        }
        if images.isEmpty {
            if let blocked = answer["promptFeedback"]?["blockReason"]?.stringValue {
                throw OpenAIImages.filtered(provider: provider, reason: "blockReason \(blocked)")
            }
            let finish = candidate?["finishReason"]?.stringValue ?? "none"
            if safetyReasons.contains(finish) {
                throw OpenAIImages.filtered(provider: provider, reason: "finishReason \(finish)")
            }
            throw GatewayError.upstreamUnavailable(
                "Provider '\(provider)' answered without an image (finishReason \(finish))"
                    + (text.isEmpty ? "." : ": \"\(String(text.prefix(200)))\"."), code: .upstreamInvalidResponse)
        }
        return (images, input, output)
    }
}
