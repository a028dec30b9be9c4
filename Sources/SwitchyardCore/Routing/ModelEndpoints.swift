/// Which endpoints a model answers, as `GET /v1/models` shows them: judged from the upstream
/// model's name (`whisper-1` transcribes, `tts-1` speaks, `dall-e-3` draws, `*embed*` embeds,
/// ...) and what its provider's API has (Imagen and Gemini image models draw through Gemini and
/// Vertex; Titan Image Generator, Nova Canvas and Stability through Bedrock). It informs
/// clients; it does not refuse requests (the provider does).
public enum ModelEndpoints {
    static let chat = ["chat_completions", "completions", "responses", "messages"]

    /// Endpoint labels (``Endpoint/label``, plus `responses` and `messages`) for a deployment.
    public static func labels(upstreamModel: String, providerType: String) -> [String] {
        let name = upstreamModel.lowercased()
        var labels: [String]
        if name.contains("whisper") {
            labels = [Endpoint.audioTranscriptions.label, Endpoint.audioTranslations.label]
        } else if name.contains("transcribe") {
            labels = [Endpoint.audioTranscriptions.label]
        } else if name.contains("tts") {
            labels = [Endpoint.audioSpeech.label]
        } else if name.contains("dall-e") || name.contains("gpt-image") || name.contains("imagen") || name.contains("image-generation") {
            labels = [Endpoint.imageGenerations.label, Endpoint.imageEdits.label]
        } else if name.contains("rerank") {
            labels = [Endpoint.rerank.label]
        } else if name.contains("moderation") {
            labels = [Endpoint.moderations.label]
        } else if name.contains("embed") {
            labels = [Endpoint.embeddings.label]
        } else {
            labels = chat
        }
        switch providerType {
        case ProviderPresets.gemini, ProviderPresets.vertex:
            // Imagen generates (`:predict`); Gemini image models generate and edit.
            if name.contains("imagen") { return [Endpoint.imageGenerations.label] }
            if name.contains("image") { return [Endpoint.imageGenerations.label, Endpoint.imageEdits.label] }
        case ProviderPresets.bedrock:
            if name.contains("titan-image-generator") || name.contains("nova-canvas") || name.contains("stability.") {
                return [Endpoint.imageGenerations.label]
            }
        case ProviderPresets.anthropic:
            break
        default:
            return labels
        }
        // Otherwise chat (and Gemini and Bedrock embeddings) only: no audio there.
        labels = labels.filter { chat.contains($0) || $0 == Endpoint.embeddings.label }
        return labels.isEmpty ? chat : labels
    }
}
