import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import SwitchyardTesting
import Testing

/// OpenAI images on Google's and Bedrock's image APIs: Imagen through `:predict` (Gemini API and
/// Vertex AI), Gemini image models through `generateContent` (generations and edits), Bedrock
/// Titan / Nova Canvas and Stability through InvokeModel; what the gateway sends, what the
/// client gets and how it is priced.
@Suite struct ProviderImagesTests {
    static func withGateway(_ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void) async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in
                """
                - {name: gem, type: gemini, base_url: 'http://127.0.0.1:\(port)', api_key: gemini-secret-key}
                - {name: vertex, type: vertex, base_url: 'http://127.0.0.1:\(port)', api_key: ya29.vertex-token, options: {project: p1, location: us-central1}}
                - name: aws
                  type: bedrock
                  base_url: http://127.0.0.1:\(port)
                  aws_access_key_id: AKIDTEST
                  aws_secret_access_key: bedrock-secret-key
                  options: {region: us-west-2}
                """
            },
            models: """
                - {name: imagen, provider: gem, model: imagen-4.0-generate-001}
                - {name: vertex-imagen, provider: vertex, model: imagen-3.0-generate-002, price: {per_image: {'*': 0.03}}}
                - {name: flash-image, provider: gem, model: gemini-2.5-flash-image}
                - {name: vertex-flash-image, provider: vertex, model: gemini-2.5-flash-image, price: {input: 1, output: 10}}
                - {name: titan, provider: aws, model: 'amazon.titan-image-generator-v2:0', price: {per_image: {'1024x1024': 0.01, '1024x1024/hd': 0.012}}}
                - {name: nova, provider: aws, model: 'amazon.nova-canvas-v1:0', price: {per_image: {'*': 0.04}}}
                - {name: stability, provider: aws, model: 'stability.stable-image-core-v1:1', price: {per_image: {'*': 0.04}}}
                - {name: claude, provider: aws, model: 'anthropic.claude-3-haiku-20240307-v1:0'}
                """,
            test)
    }

    static func generate(_ client: any TestClientProtocol, _ body: String) async throws -> TestResponse {
        try await client.execute(uri: "/v1/images/generations", method: .post, headers: authorized, body: ByteBuffer(string: body))
    }

    static func pngs(_ response: TestResponse) -> [[UInt8]] {
        (response.json?["data"]?.arrayValue ?? []).compactMap { $0["b64_json"]?.stringValue.flatMap { Data(base64Encoded: $0) }.map(Array.init) }
    }

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func cost(_ client: any TestClientProtocol, _ response: TestResponse) async throws -> Double {
        let row = try #require(try await RerankModerationTests.record(client, response))
        #expect(row["endpoint"]?.stringValue?.hasPrefix("image_") == true, "\(row)")
        return row["cost_usd"]?.doubleValue ?? -1
    }

    @Test func imagenGeneratesThroughPredictOnTheGeminiAPIAndVertex() async throws {
        try await Self.withGateway { client, mock in
            let response = try await Self.generate(client, #"{"model":"imagen","prompt":"a lighthouse at dusk","n":2,"size":"1792x1024"}"#)
            #expect(response.status == .ok, "\(response.text)")
            #expect(mock.stats.lastURL == "/v1beta/models/imagen-4.0-generate-001:predict")
            #expect(mock.stats.lastHeaders.contains { $0.name.lowercased() == "x-goog-api-key" && $0.value == "gemini-secret-key" })
            let sent = try #require(mock.stats.lastBodyJSON)
            #expect(sent["instances"]?.arrayValue?.first?["prompt"]?.stringValue == "a lighthouse at dusk")
            #expect(sent["parameters"]?["sampleCount"]?.intValue == 2)
            #expect(sent["parameters"]?["aspectRatio"]?.stringValue == "16:9", "DALL·E 3's wide size is 16:9")
            let images = Self.pngs(response)
            #expect(images.count == 2 && images.allSatisfy { $0.starts(with: Self.pngSignature) })
            #expect(response.json?["created"]?.intValue ?? 0 > 1_700_000_000)
            #expect(response.json?["output_format"]?.stringValue == "png")
            #expect(abs(try await Self.cost(client, response) - 0.08) < 1e-9, "two images at the built-in Imagen 4 price")

            let vertex = try await Self.generate(
                client, #"{"model":"vertex-imagen","prompt":"a harbour","size":"1024x768","output_format":"jpeg","output_compression":80}"#)
            #expect(vertex.status == .ok, "\(vertex.text)")
            #expect(mock.stats.lastURL == "/v1/projects/p1/locations/us-central1/publishers/google/models/imagen-3.0-generate-002:predict")
            #expect(mock.stats.lastHeaders.contains { $0.name.lowercased() == "authorization" && $0.value == "Bearer ya29.vertex-token" })
            #expect(mock.stats.lastBodyJSON?["parameters"]?["aspectRatio"]?.stringValue == "4:3")
            #expect(mock.stats.lastBodyJSON?["parameters"]?["outputOptions"] == ["mimeType": "image/jpeg", "compressionQuality": 80])
            #expect(vertex.json?["output_format"]?.stringValue == "jpeg")
            #expect(abs(try await Self.cost(client, vertex) - 0.03) < 1e-9)
            _ = try await metricsText(client, containing: #"endpoint="image_generations""#)
        }
    }

    @Test func geminiImageModelsMakeOneImagePerGenerateContentCallPricedByTheirTokens() async throws {
        try await Self.withGateway { client, mock in
            mock.resetStats()
            let response = try await Self.generate(client, #"{"model":"vertex-flash-image","prompt":"a red kite","n":3,"size":"1024x1536"}"#)
            #expect(response.status == .ok, "\(response.text)")
            #expect(mock.stats.requests == 3, "one call per image")
            #expect(mock.stats.lastURL == "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash-image:generateContent")
            let sent = try #require(mock.stats.lastBodyJSON)
            #expect(sent["generationConfig"]?["responseModalities"] == ["TEXT", "IMAGE"])
            #expect(sent["generationConfig"]?["imageConfig"]?["aspectRatio"]?.stringValue == "2:3")
            #expect(sent["contents"]?.arrayValue?.first?["parts"]?.arrayValue?.first?["text"]?.stringValue == "a red kite")
            #expect(Self.pngs(response).count == 3)
            let usage = try #require(response.json?["usage"])
            let output = try #require(usage["output_tokens"]?.intValue)
            let input = try #require(usage["input_tokens"]?.intValue)
            #expect(output == 3 * MockProvider.geminiImageTokens)
            let expected = (Double(input) * 1 + Double(output) * 10) / 1_000_000
            #expect(abs(try await Self.cost(client, response) - expected) < 1e-9, "the model's token prices")

            // The built-in price of Gemini 2.5 Flash Image (not gemini-2.5-flash's text price).
            let apiKey = try await Self.generate(client, #"{"model":"flash-image","prompt":"a blue kite"}"#)
            #expect(apiKey.status == .ok, "\(apiKey.text)")
            #expect(mock.stats.lastURL == "/v1beta/models/gemini-2.5-flash-image:generateContent")
            #expect(mock.stats.lastBodyJSON?["generationConfig"]?["imageConfig"] == nil, "no size, no aspect ratio")
            let tokens = try #require(apiKey.json?["usage"]?["input_tokens"]?.intValue)
            let builtIn = (Double(tokens) * 0.3 + Double(MockProvider.geminiImageTokens) * 30) / 1_000_000
            #expect(abs(try await Self.cost(client, apiKey) - builtIn) < 1e-9)
        }
    }

    @Test func geminiEditsSendTheUploadedImageInline() async throws {
        try await Self.withGateway { client, mock in
            let source = MockProvider.png(for: "source image")
            let response = try await client.execute(
                uri: "/v1/images/edits", method: .post, headers: MediaTests.multipartHeaders,
                body: MediaTests.multipart(
                    [("model", "flash-image"), ("prompt", "make the sky purple"), ("size", "1024x1024")], file: ("image", "source.png", source)))
            #expect(response.status == .ok, "\(response.text)")
            #expect(mock.stats.lastURL == "/v1beta/models/gemini-2.5-flash-image:generateContent")
            let parts = mock.stats.lastBodyJSON?["contents"]?.arrayValue?.first?["parts"]?.arrayValue ?? []
            #expect(parts.first?["text"]?.stringValue == "make the sky purple")
            #expect(parts.last?["inlineData"]?["mimeType"]?.stringValue == "image/png")
            #expect(parts.last?["inlineData"]?["data"]?.stringValue == Data(source).base64EncodedString(), "the upload, whole")
            let edited = try #require(Self.pngs(response).first)
            #expect(edited == MockProvider.png(for: "make the sky purple" + Data(source).base64EncodedString()), "made from the prompt and the image")
            let row = try #require(try await RerankModerationTests.record(client, response))
            #expect(row["endpoint"]?.stringValue == "image_edits" && (row["cost_usd"]?.doubleValue ?? 0) > 0, "\(row)")

            // Imagen and Bedrock do not edit here; a mask has no place in a Gemini request.
            mock.resetStats()
            for (model, param) in [("imagen", "model"), ("titan", "model")] {
                let refused = try await client.execute(
                    uri: "/v1/images/edits", method: .post, headers: MediaTests.multipartHeaders,
                    body: MediaTests.multipart([("model", model), ("prompt", "x")], file: ("image", "a.png", source)))
                #expect(refused.status == .badRequest && refused.json?["error"]?["param"]?.stringValue == param, "\(model): \(refused.text)")
                #expect(refused.json?["error"]?["code"]?.stringValue == "unsupported_endpoint")
            }
            let boundary = MediaTests.boundary
            var body = Array(MediaTests.multipart([("model", "flash-image"), ("prompt", "x")], file: ("image", "a.png", source)).readableBytesView)
            body.removeLast("--\(boundary)--\r\n".utf8.count)
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"mask\"; filename=\"m.png\"\r\n\r\n".utf8) + source
            body += Array("\r\n--\(boundary)--\r\n".utf8)
            let masked = try await client.execute(
                uri: "/v1/images/edits", method: .post, headers: MediaTests.multipartHeaders, body: ByteBuffer(bytes: body))
            #expect(masked.status == .badRequest && masked.json?["error"]?["param"]?.stringValue == "mask", "\(masked.text)")
            let notAnImage = try await client.execute(
                uri: "/v1/images/edits", method: .post, headers: MediaTests.multipartHeaders,
                body: MediaTests.multipart([("model", "flash-image"), ("prompt", "x")], file: ("image", "a.wav", MediaTests.wav(seconds: 0.1))))
            #expect(notAnImage.status == .badRequest && notAnImage.json?["error"]?["param"]?.stringValue == "image", "\(notAnImage.text)")
            #expect(mock.stats.requests == 0, "refused edits reach no provider")
        }
    }

    @Test func bedrockImageModelsThroughSignedInvokeModel() async throws {
        try await Self.withGateway { client, mock in
            let titan = try await Self.generate(client, #"{"model":"titan","prompt":"a red harbour","n":2,"size":"1024x1024","quality":"hd"}"#)
            #expect(titan.status == .ok, "\(titan.text)")
            #expect(mock.stats.lastURL == "/model/amazon.titan-image-generator-v2%3A0/invoke")
            let authorization = mock.stats.lastHeaders.first { $0.name.lowercased() == "authorization" }?.value ?? ""
            #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDTEST/") && authorization.contains("/us-west-2/bedrock/aws4_request"))
            #expect(!authorization.contains("bedrock-secret-key"))
            let sent = try #require(mock.stats.lastBodyJSON)
            #expect(sent["taskType"]?.stringValue == "TEXT_IMAGE")
            #expect(sent["textToImageParams"]?["text"]?.stringValue == "a red harbour")
            #expect(
                sent["imageGenerationConfig"]
                    == ["numberOfImages": 2, "width": 1024, "height": 1024, "quality": "premium"])
            #expect(Self.pngs(titan).count == 2 && Self.pngs(titan).allSatisfy { $0.starts(with: Self.pngSignature) })
            #expect(abs(try await Self.cost(client, titan) - 0.024) < 1e-9, "2 images at the 1024x1024/hd price")

            let nova = try await Self.generate(client, #"{"model":"nova","prompt":"a boat","quality":"standard"}"#)
            #expect(nova.status == .ok, "\(nova.text)")
            #expect(mock.stats.lastURL == "/model/amazon.nova-canvas-v1%3A0/invoke")
            #expect(mock.stats.lastBodyJSON?["imageGenerationConfig"] == ["numberOfImages": 1, "quality": "standard"])

            mock.resetStats()
            let stability = try await Self.generate(
                client, #"{"model":"stability","prompt":"a castle","n":2,"size":"1536x1024","output_format":"jpeg"}"#)
            #expect(stability.status == .ok, "\(stability.text)")
            #expect(mock.stats.requests == 2, "Stability makes one image per call")
            #expect(mock.stats.lastURL == "/model/stability.stable-image-core-v1%3A1/invoke")
            #expect(mock.stats.lastBodyJSON == ["prompt": "a castle", "output_format": "jpeg", "aspect_ratio": "3:2"])
            #expect(stability.json?["output_format"]?.stringValue == "jpeg" && Self.pngs(stability).count == 2)
            #expect(abs(try await Self.cost(client, stability) - 0.08) < 1e-9)
        }
    }

    @Test func filteredImagesAreAContentFilterRefusal() async throws {
        try await Self.withGateway { client, _ in
            for model in ["imagen", "flash-image", "titan", "stability"] {
                let response = try await Self.generate(client, #"{"model":"\#(model)","prompt":"something forbidden"}"#)
                #expect(response.status == .badRequest, "\(model): \(response.text)")
                #expect(
                    response.json?["error"]?["code"]?.stringValue == "content_filter" || response.text.contains("content filters"),
                    "\(model): \(response.text)")
            }
        }
    }

    @Test func requestsTheseAPIsCannotServeAreRefusedBeforeAnyCall() async throws {
        try await Self.withGateway { client, mock in
            mock.resetStats()
            let cases: [(String, String)] = [
                (#"{"model":"imagen","prompt":"x","response_format":"url"}"#, "response_format"),
                (#"{"model":"titan","prompt":"x","response_format":"url"}"#, "response_format"),
                (#"{"model":"imagen","prompt":"x","size":"1536x1024"}"#, "size"),  // 3:2 is not an Imagen ratio
                (#"{"model":"stability","prompt":"x","size":"1000x1001"}"#, "size"),
                (#"{"model":"flash-image","prompt":"x","size":"large"}"#, "size"),
                (#"{"model":"imagen","prompt":"x","output_format":"webp"}"#, "output_format"),
                (#"{"model":"imagen","prompt":"x","style":"vivid"}"#, "style"),
                (#"{"model":"titan","prompt":"x","quality":"ultra"}"#, "quality"),
                (#"{"model":"stability","prompt":"x","output_format":"jpeg","output_compression":50}"#, "output_compression"),
                (#"{"model":"claude","prompt":"x"}"#, "model"),
            ]
            for (body, param) in cases {
                let response = try await Self.generate(client, body)
                #expect(response.status == .badRequest, "\(body): \(response.text)")
                #expect(response.json?["error"]?["param"]?.stringValue == param, "\(body): \(response.text)")
                #expect(response.json?["error"]?["message"]?.stringValue?.isEmpty == false)
            }
            #expect(mock.stats.requests == 0, "nothing the API cannot serve reaches it")
        }
    }

    @Test func modelsListImageEndpointsByProvider() async throws {
        try await Self.withGateway { client, _ in
            let list = try await client.execute(uri: "/v1/models", method: .get, headers: authorized)
            let data = list.json?["data"]?.arrayValue ?? []
            func endpoints(_ id: String) -> [String] {
                data.first { $0["id"]?.stringValue == id }?["endpoints"]?.arrayValue?.compactMap(\.stringValue) ?? []
            }
            #expect(endpoints("imagen") == ["image_generations"])
            #expect(endpoints("flash-image") == ["image_generations", "image_edits"])
            #expect(endpoints("titan") == ["image_generations"] && endpoints("stability") == ["image_generations"])
            #expect(endpoints("claude").contains("chat_completions") && !endpoints("claude").contains("image_generations"))
        }
    }
}

/// The image translators as pure functions: sizes to aspect ratios, and what the providers'
/// answers become (filtered and thought images left out).
@Suite struct ImageTranslationTests {
    func parse(_ body: String) throws -> OpenAIImageRequest {
        try OpenAIImageRequest.parse(Array(body.utf8), provider: "p")
    }

    @Test func sizesBecomeTheAspectRatioTheyReduceTo() throws {
        func ratio(_ size: String, _ accepted: [String]) throws -> String? {
            try parse(#"{"prompt":"x","size":"\#(size)"}"#).aspectRatio(accepted: accepted, model: "m", provider: "p")
        }
        #expect(try ratio("1024x1024", GeminiImages.imagenAspectRatios) == "1:1")
        #expect(try ratio("1792x1024", GeminiImages.imagenAspectRatios) == "16:9")
        #expect(try ratio("1024x1792", GeminiImages.imagenAspectRatios) == "9:16")
        #expect(try ratio("1536x1024", GeminiImages.geminiAspectRatios) == "3:2")
        #expect(try ratio("1344x576", GeminiImages.geminiAspectRatios) == "21:9")
        #expect(throws: GatewayError.self) { try ratio("2048x1024", GeminiImages.geminiAspectRatios) }
        #expect(throws: GatewayError.self) { try ratio("1536x1024", GeminiImages.imagenAspectRatios) }
        #expect(try parse(#"{"prompt":"x","size":"auto"}"#).size == nil)
        // Multipart fields arrive as strings.
        let form = try parse(#"{"prompt":"x","n":"3","quality":"HD"}"#)
        #expect(form.count == 3 && form.quality == "hd")
        #expect(throws: GatewayError.self) { try parse(#"{"prompt":"x","n":11}"#) }
        #expect(throws: GatewayError.self) { try parse(#"{"prompt":""}"#) }
    }

    @Test func answersLeaveFilteredAndThoughtImagesOut() throws {
        let request = try parse(#"{"prompt":"x","n":2,"size":"1024x1024","quality":"hd"}"#)
        let imagen = try GeminiImages.imagenResponse(
            Array(
                #"{"predictions":[{"bytesBase64Encoded":"QUJD","mimeType":"image/png","prompt":"x, enhanced"},{"raiFilteredReason":"filtered"}]}"#
                    .utf8),
            request: request, provider: "p", created: 7)
        #expect(
            imagen == [
                "created": 7, "data": [["b64_json": "QUJD", "revised_prompt": "x, enhanced"]], "size": "1024x1024", "quality": "hd",
                "output_format": "png",
            ])

        let gemini = try GeminiImages.contentImages(
            Array(
                #"{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"VEhJTks="},"thought":true},{"text":"Here"},{"inline_data":{"mime_type":"image/jpeg","data":"RklOQUw="}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":1290}}"#
                    .utf8), provider: "p")
        #expect(gemini.images == [GeneratedImage(base64: "RklOQUw=", mimeType: "image/jpeg")] && gemini.input == 10 && gemini.output == 1290)
        #expect(throws: GatewayError.self) {
            try GeminiImages.contentImages(
                Array(#"{"candidates":[{"content":{"parts":[{"text":"I cannot draw that."}]},"finishReason":"STOP"}]}"#.utf8), provider: "p")
        }

        let stability = try BedrockImages.stabilityImages(
            Array(#"{"seeds":[1,2],"finish_reasons":[null,"Filter reason: output image"],"images":["QUJD","REVG"]}"#.utf8), request: request,
            provider: "p")
        #expect(stability == [GeneratedImage(base64: "QUJD", mimeType: "image/png")])
        #expect(BedrockImages.family(of: "us.amazon.nova-canvas-v1:0") == .amazon)
        #expect(BedrockImages.family(of: "stability.sd3-5-large-v1:0") == .stability)
        #expect(BedrockImages.family(of: "stability.stable-diffusion-xl-v1") == nil)
    }
}
