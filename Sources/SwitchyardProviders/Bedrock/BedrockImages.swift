import SwitchyardCore

/// OpenAI images to Bedrock's image models through InvokeModel (`/model/{id}/invoke`) and back:
/// - Amazon Titan Image Generator and Nova Canvas: `{"taskType": "TEXT_IMAGE", "textToImageParams":
///   {"text"}, "imageGenerationConfig": {"numberOfImages", "width", "height", "quality"}}` →
///   `{"images": [base64...], "error"}`;
/// - Stability AI (Stable Image Core and Ultra, Stable Diffusion 3 and 3.5): `{"prompt",
///   "aspect_ratio", "output_format"}` → `{"seeds", "finish_reasons", "images"}`, one image per call.
public enum BedrockImages {
    public enum Family: Sendable, Equatable {
        case amazon
        case stability
    }

    /// The image family of a Bedrock model id (an inference profile's `us.` prefix or an ARN
    /// allowed); nil for models that do not make images here (the legacy SDXL body included).
    public static func family(of model: String) -> Family? {
        let name = model.lowercased()
        if name.contains("titan-image-generator") || name.contains("nova-canvas") { return .amazon }
        if name.contains("stability.") && !name.contains("stable-diffusion-xl") { return .stability }
        return nil
    }

    /// The aspect ratios Stability's models take.
    public static let stabilityAspectRatios = ["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"]

    /// Titan's and Nova Canvas's quality: `standard` or `premium` (OpenAI's `hd` and `high`).
    static func amazonQuality(_ quality: String?, provider: String) throws(GatewayError) -> String? {
        switch quality {
        case nil: return nil
        case "standard", "low", "medium": return "standard"
        case "hd", "high", "premium": return "premium"
        case let other?:
            throw GatewayError.invalidRequest(
                "Invalid 'quality' '\(other.prefix(20))' for provider '\(provider)': use standard, hd, low, medium or high.", param: "quality",
                code: .invalidValue)
        }
    }

    /// The Titan / Nova Canvas body: all `n` images in one call, the size in pixels.
    public static func amazonRequest(_ request: OpenAIImageRequest, model: String, provider: String) throws(GatewayError) -> JSONValue {
        try request.checkOutputFormat(["png"], model: model, provider: provider)
        var config: JSONObject = ["numberOfImages": JSONValue(request.count)]
        if let width = request.width, let height = request.height {
            config["width"] = JSONValue(width)
            config["height"] = JSONValue(height)
        }
        if let quality = try amazonQuality(request.quality, provider: provider) { config["quality"] = .string(quality) }
        return ["taskType": "TEXT_IMAGE", "textToImageParams": ["text": .string(request.prompt)], "imageGenerationConfig": .object(config)]
    }

    /// The OpenAI answer to a Titan / Nova Canvas answer; `error` without images (a content
    /// filter) is refused with 400 `content_filter`.
    public static func amazonResponse(_ bytes: [UInt8], request: OpenAIImageRequest, provider: String, created: Int) throws(GatewayError) -> JSONValue
    {
        guard let answer = (try? JSONValue.parse(bytes))?.objectValue else {
            throw GatewayError.upstreamUnavailable(
                "Provider '\(provider)' returned an images answer that is not JSON.", code: .upstreamInvalidResponse)
        }
        let images = (answer["images"]?.arrayValue ?? []).compactMap(\.stringValue).filter { !$0.isEmpty }
        guard !images.isEmpty else {
            throw OpenAIImages.filtered(provider: provider, reason: answer["error"]?.stringValue ?? "no images")
        }
        return OpenAIImages.response(images.map { GeneratedImage(base64: $0, mimeType: "image/png") }, request: request, created: created)
    }

    /// One Stability call's body (one image).
    public static func stabilityRequest(_ request: OpenAIImageRequest, model: String, provider: String) throws(GatewayError) -> JSONValue {
        try request.checkOutputFormat(["png", "jpeg"], model: model, provider: provider)
        var body: JSONObject = ["prompt": .string(request.prompt), "output_format": .string(request.outputFormat ?? "png")]
        if let ratio = try request.aspectRatio(accepted: stabilityAspectRatios, model: model, provider: provider) {
            body["aspect_ratio"] = .string(ratio)
        }
        return .object(body)
    }

    /// The images of one Stability answer; a non-null `finish_reasons` entry ("Filter reason:
    /// prompt") is a filtered image, and an answer with none left is refused (400 `content_filter`).
    public static func stabilityImages(_ bytes: [UInt8], request: OpenAIImageRequest, provider: String) throws(GatewayError) -> [GeneratedImage] {
        guard let answer = (try? JSONValue.parse(bytes))?.objectValue else {
            throw GatewayError.upstreamUnavailable(
                "Provider '\(provider)' returned an images answer that is not JSON.", code: .upstreamInvalidResponse)
        }
        let reasons = answer["finish_reasons"]?.arrayValue ?? []
        var images: [GeneratedImage] = []
        for (index, image) in (answer["images"]?.arrayValue ?? []).enumerated() {
            guard let data = image.stringValue, !data.isEmpty else { continue }
            if index < reasons.count, let reason = reasons[index].stringValue, !reason.isEmpty { continue }
            images.append(GeneratedImage(base64: data, mimeType: request.outputFormat == "jpeg" ? "image/jpeg" : "image/png"))
        }
        guard !images.isEmpty else {
            throw OpenAIImages.filtered(provider: provider, reason: reasons.compactMap(\.stringValue).first ?? "no images")
        }
        return images
    }
}
