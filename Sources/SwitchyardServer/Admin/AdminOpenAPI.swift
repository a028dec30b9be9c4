import SwitchyardCore

/// The OpenAPI 3.1 description of the whole HTTP interface, served at `GET /admin/openapi.json`.
///
/// `OpenAPITests` checks that every route the router serves is in it, and nothing else.
enum AdminOpenAPI {
    static let document = #"""
        {
          "openapi": "3.1.0",
          "info": {"title": "Switchyard HTTP API", "version": "\#(SwitchyardVersion.current)"},
          "components": {
            "securitySchemes": {
              "masterKey": {"type": "http", "scheme": "bearer", "description": "The gateway's master key, a virtual key or a JWT, as each route allows."},
              "dashboardSession": {"type": "apiKey", "in": "cookie", "name": "switchyard_session", "description": "The dashboard's session cookie (POST /ui/login)."}
            },
            "responses": {
              "Error": {"description": "An error in OpenAI's envelope", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            },
            "schemas": {
              "InferenceRequest": {"type": "object", "required": ["model"], "description": "The request body of the dialect (OpenAI or Anthropic); fields the gateway does not read are forwarded as sent.", "properties": {"model": {"type": "string"}, "stream": {"type": "boolean"}}, "additionalProperties": true},
              "KeyRequest": {
                "type": "object", "required": ["name"],
                "properties": {
                  "name": {"type": "string"},
                  "models": {"type": "array", "items": {"type": "string"}, "description": "Allowed model groups; omitted: all."},
                  "endpoints": {"type": "array", "items": {"type": "string", "enum": ["chat_completions", "completions", "embeddings", "messages", "responses", "rerank", "moderations", "image_generations", "image_edits", "audio_transcriptions", "audio_translations", "audio_speech", "passthrough", "mcp"]}},
                  "regions": {"type": "array", "items": {"type": "string"}},
                  "tier": {"type": "string", "description": "A tier of limits.tiers."},
                  "organization_id": {"type": "string"}, "team_id": {"type": "string"}, "user_id": {"type": "string"},
                  "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                  "expires_at": {"type": "number", "description": "Unix seconds."},
                  "expires_in": {"type": "string", "examples": ["30d", "12h", "90m"]},
                  "budget": {"$ref": "#/components/schemas/BudgetLimit"}
                }
              },
              "BudgetLimit": {
                "type": "object", "required": ["amount"],
                "properties": {
                  "amount": {"type": "number", "minimum": 0, "description": "USD per period."},
                  "period": {"type": "string", "enum": ["daily", "weekly", "monthly", "total"], "default": "monthly"}
                }
              },
              "UsageTotals": {
                "type": "object", "description": "One group (its dimensions as members) or the totals.",
                "properties": {
                  "requests": {"type": "integer"}, "errors": {"type": "integer"}, "prompt_tokens": {"type": "integer"},
                  "completion_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}, "cached_tokens": {"type": "integer"},
                  "reasoning_tokens": {"type": "integer"}, "cost_usd": {"type": "number"}
                },
                "additionalProperties": {"type": ["string", "null"]}
              },
              "BudgetStatus": {
                "type": "object",
                "properties": {
                  "scope": {"type": "string", "enum": ["key", "user", "end_user", "team", "org", "global"]}, "id": {"type": "string"},
                  "period": {"type": "string"}, "period_id": {"type": "string"}, "limit_usd": {"type": "number"},
                  "spent_usd": {"type": "number", "description": "Including reservations of requests in flight."},
                  "remaining_usd": {"type": "number"}, "resets_at": {"type": ["string", "null"], "format": "date-time"}
                }
              },
              "Usage": {
                "type": "object",
                "properties": {
                  "object": {"type": "string", "enum": ["usage", "spend"]},
                  "group_by": {"type": "array", "items": {"type": "string"}},
                  "from": {"type": ["string", "null"]}, "to": {"type": ["string", "null"]},
                  "data": {"type": "array", "items": {"$ref": "#/components/schemas/UsageTotals"}},
                  "totals": {"$ref": "#/components/schemas/UsageTotals"},
                  "budgets": {"type": "array", "items": {"$ref": "#/components/schemas/BudgetStatus"}}
                }
              },
              "Key": {
                "type": "object",
                "properties": {
                  "id": {"type": "string"}, "name": {"type": "string"}, "hint": {"type": "string"},
                  "status": {"type": "string", "enum": ["active", "revoked", "expired"]},
                  "created_at": {"type": "number"}, "expires_at": {"type": ["number", "null"]}, "revoked_at": {"type": ["number", "null"]},
                  "models": {"type": ["array", "null"], "items": {"type": "string"}},
                  "endpoints": {"type": ["array", "null"], "items": {"type": "string"}},
                  "regions": {"type": ["array", "null"], "items": {"type": "string"}},
                  "tier": {"type": ["string", "null"]}, "organization_id": {"type": ["string", "null"]},
                  "team_id": {"type": ["string", "null"]}, "user_id": {"type": ["string", "null"]},
                  "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                  "budget": {"oneOf": [{"$ref": "#/components/schemas/BudgetLimit"}, {"type": "null"}]}
                }
              },
              "KeyWithSecret": {
                "allOf": [{"$ref": "#/components/schemas/Key"}, {"type": "object", "properties": {"key": {"type": "string", "description": "Shown once."}}}]
              },
              "DirectoryEntry": {
                "type": "object", "required": ["id"],
                "properties": {
                  "id": {"type": "string"}, "name": {"type": ["string", "null"]},
                  "organization_id": {"type": ["string", "null"], "description": "Teams: their organisation."},
                  "team_id": {"type": ["string", "null"], "description": "Users: their team."},
                  "tier": {"type": ["string", "null"]}, "models": {"type": ["array", "null"], "items": {"type": "string"}},
                  "roles": {"type": ["array", "null"], "items": {"type": "string"}, "description": "Users only."},
                  "budget": {"oneOf": [{"$ref": "#/components/schemas/BudgetLimit"}, {"type": "null"}]},
                  "metadata": {"type": "object", "additionalProperties": {"type": "string"}}
                }
              },
              "AuditRecord": {
                "type": "object",
                "properties": {
                  "seq": {"type": "integer"}, "ts": {"type": "number"}, "time": {"type": "string", "format": "date-time"},
                  "kind": {"type": "string", "enum": ["authentication", "authorization", "admin", "config"]},
                  "action": {"type": "string"}, "actor": {"type": "string"}, "outcome": {"type": "string", "enum": ["success", "denied", "failed"]},
                  "target": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]}, "request_id": {"type": ["string", "null"]},
                  "details": {"type": "object", "additionalProperties": {"type": "string"}},
                  "prev_mac": {"type": "string"}, "mac": {"type": "string"}
                }
              },
              "Error": {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {
                  "message": {"type": "string"}, "type": {"type": "string"}, "code": {"type": ["string", "null"]}, "param": {"type": ["string", "null"]}}}}
              }
            }
          },
          "security": [{"masterKey": []}],
          "paths": {
            "/v1/chat/completions": {
              "post": {
                "summary": "OpenAI Chat Completions, streamed (text/event-stream) with \"stream\": true; answered by any configured model. Also served as /chat/completions.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}},
                "responses": {"200": {"description": "chat.completion, or chat.completion.chunk events"}, "default": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/chat/completions": {"post": {"summary": "Same as /v1/chat/completions.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}}, "responses": {"200": {"description": "As /v1/chat/completions"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/v1/completions": {"post": {"summary": "OpenAI legacy Completions (OpenAI-compatible and Azure providers). Also served as /completions.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}}, "responses": {"200": {"description": "text_completion"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/completions": {"post": {"summary": "Same as /v1/completions.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}}, "responses": {"200": {"description": "As /v1/completions"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/v1/embeddings": {"post": {"summary": "OpenAI Embeddings. Also served as /embeddings.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}}, "responses": {"200": {"description": "A list of embeddings (float or base64)"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/embeddings": {"post": {"summary": "Same as /v1/embeddings.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}}, "responses": {"200": {"description": "As /v1/embeddings"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/rerank": {"post": {"summary": "Same as /v1/rerank.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "As /v1/rerank"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/moderations": {"post": {"summary": "Same as /v1/moderations.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "As /v1/moderations"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/v1/images/generations": {"post": {"summary": "OpenAI Images: generate images from a prompt (OpenAI-compatible providers; Imagen and Gemini image models on Gemini and Vertex AI; Titan Image Generator, Nova Canvas and Stability on Bedrock, answered as b64_json). Priced per image by size and quality (price.per_image), plus tokens when the provider reports them. Also served as /images/generations.",
              "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["model", "prompt"], "properties": {"model": {"type": "string"}, "prompt": {"type": "string"}, "n": {"type": "integer", "minimum": 1, "maximum": 10}, "size": {"type": "string"}, "quality": {"type": "string"}, "response_format": {"type": "string", "enum": ["b64_json", "url"]}, "user": {"type": "string"}}}}}},
              "responses": {"200": {"description": "{created, data: [{b64_json | url, revised_prompt}], usage?}"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/images/generations": {"post": {"summary": "Same as /v1/images/generations.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "As /v1/images/generations"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/v1/images/edits": {"post": {"summary": "OpenAI image edits: a multipart upload ('model' and 'prompt' before the 'image' file part), streamed to the provider (read whole for Gemini image models, which take images inline); limit server.endpoints.image_edits.max_body_size. Also served as /images/edits.",
              "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["model", "prompt", "image"], "properties": {"model": {"type": "string"}, "prompt": {"type": "string"}, "n": {"type": "integer"}, "size": {"type": "string"}, "image": {"type": "string", "format": "binary"}}}}}},
              "responses": {"200": {"description": "As /v1/images/generations"}, "413": {"$ref": "#/components/responses/Error"}, "415": {"$ref": "#/components/responses/Error"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/images/edits": {"post": {"summary": "Same as /v1/images/edits.", "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "As /v1/images/edits"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/v1/audio/transcriptions": {"post": {"summary": "OpenAI transcriptions: a multipart upload ('model' before the 'file' part), streamed to the provider without being held whole; limit server.endpoints.audio_transcriptions.max_body_size (default 25 MiB). Priced per second (price.per_second) from the provider's duration or the WAV header. Also served as /audio/transcriptions.",
              "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["model", "file"], "properties": {"model": {"type": "string"}, "file": {"type": "string", "format": "binary"}, "language": {"type": "string"}, "prompt": {"type": "string"}, "response_format": {"type": "string", "enum": ["json", "text", "srt", "verbose_json", "vtt"]}}}}}},
              "responses": {"200": {"description": "{text, usage?} (or text / verbose_json as asked); header x-switchyard-audio-seconds"}, "413": {"$ref": "#/components/responses/Error"}, "415": {"$ref": "#/components/responses/Error"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/audio/transcriptions": {"post": {"summary": "Same as /v1/audio/transcriptions.", "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "As /v1/audio/transcriptions"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/v1/audio/translations": {"post": {"summary": "OpenAI translations (audio to English text): as /v1/audio/transcriptions. Also served as /audio/translations.",
              "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["model", "file"], "properties": {"model": {"type": "string"}, "file": {"type": "string", "format": "binary"}}}}}},
              "responses": {"200": {"description": "{text}"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/audio/translations": {"post": {"summary": "Same as /v1/audio/translations.", "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "As /v1/audio/translations"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/v1/audio/speech": {"post": {"summary": "OpenAI speech: the audio streams back as the provider sends it. Priced per input character (price.per_character). Also served as /audio/speech.",
              "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["model", "input", "voice"], "properties": {"model": {"type": "string"}, "input": {"type": "string"}, "voice": {"type": "string"}, "response_format": {"type": "string"}, "speed": {"type": "number", "minimum": 0.25, "maximum": 4}}}}}},
              "responses": {"200": {"description": "Audio bytes (the provider's content type)", "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/audio/speech": {"post": {"summary": "Same as /v1/audio/speech.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}}, "responses": {"200": {"description": "As /v1/audio/speech"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/passthrough/{provider}/{path}": {
              "parameters": [{"name": "provider", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "path", "in": "path", "required": true, "schema": {"type": "string"}, "description": "A path the provider's passthrough route allows (may contain slashes), appended to its base URL."}],
              "get": {"summary": "Forwarded to the provider with its credentials (passthrough:). 404 unless a route allows the path; 405 for a method it does not.", "responses": {"default": {"description": "The provider's answer, streamed"}}},
              "post": {"summary": "As GET.", "responses": {"default": {"description": "The provider's answer, streamed"}}},
              "put": {"summary": "As GET.", "responses": {"default": {"description": "The provider's answer, streamed"}}},
              "patch": {"summary": "As GET.", "responses": {"default": {"description": "The provider's answer, streamed"}}},
              "delete": {"summary": "As GET.", "responses": {"default": {"description": "The provider's answer, streamed"}}}
            },
            "/v1/models": {"get": {"summary": "The models the caller may use (names, name@version, aliases). Also served as /models.", "responses": {"200": {"description": "{object: list, data: [model]}"}}}},
            "/models": {"get": {"summary": "Same as /v1/models.", "responses": {"200": {"description": "As /v1/models"}}}},
            "/v1/models/{model}": {
              "parameters": [{"name": "model", "in": "path", "required": true, "schema": {"type": "string"}, "description": "May contain slashes (openai/gpt-4o)."}],
              "get": {"summary": "One model, patterns resolved. Also served as /models/{model}.", "responses": {"200": {"description": "The model"}, "404": {"$ref": "#/components/responses/Error"}}}
            },
            "/models/{model}": {
              "parameters": [{"name": "model", "in": "path", "required": true, "schema": {"type": "string"}}],
              "get": {"summary": "Same as /v1/models/{model}.", "responses": {"200": {"description": "The model"}, "404": {"$ref": "#/components/responses/Error"}}}
            },
            "/v1/responses": {"post": {"summary": "OpenAI Responses API on any model (streams as Responses events). Also served as /responses.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}}, "responses": {"200": {"description": "A response object, or response.* events"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/responses": {"post": {"summary": "Same as /v1/responses.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}}, "responses": {"200": {"description": "As /v1/responses"}, "default": {"$ref": "#/components/responses/Error"}}}},
            "/v1/messages": {"post": {"summary": "Anthropic Messages on any model (x-api-key or Bearer); errors in Anthropic's envelope.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}}, "responses": {"200": {"description": "A message, or Anthropic stream events"}, "default": {"description": "{type: error, error: {type, message}}"}}}},
            "/v1/messages/count_tokens": {"post": {"summary": "Anthropic token counting for any model.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}}}, "responses": {"200": {"description": "{input_tokens}"}}}},
            "/v1/guardrails/check": {"post": {"summary": "Run guardrails on a text without calling a model.", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}, "detectors": {"type": "array", "items": {"type": "string", "enum": ["pii", "secrets", "injection", "content"]}}, "guardrails": {"type": "array", "items": {"type": "string"}}, "role": {"type": "string"}}}}}}, "responses": {"200": {"description": "Per guardrail: triggered, score, findings, masked"}, "400": {"$ref": "#/components/responses/Error"}}}},
            "/admin/cache": {"delete": {"summary": "Drop cached answers.", "parameters": [{"name": "model", "in": "query", "schema": {"type": "string"}}, {"name": "namespace", "in": "query", "schema": {"type": "string"}}, {"name": "partition", "in": "query", "schema": {"type": "string"}}, {"name": "older_than", "in": "query", "schema": {"type": "integer"}, "description": "Seconds."}], "responses": {"200": {"description": "{deleted: n}"}, "403": {"description": "Not an admin"}}}},
            "/admin/openapi.json": {"get": {"summary": "This document.", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/health/live": {"get": {"summary": "The process is up (open to probes).", "security": [], "responses": {"200": {"description": "{status: ok, version}"}}}},
            "/health/ready": {"get": {"summary": "Readiness: configuration generation and providers' health; 503 while shutting down. Needs server.operational_token when set.", "security": [], "responses": {"200": {"description": "{status: ready, version, config, providers}"}, "401": {"description": "Operational token missing"}, "503": {"description": "Shutting down"}}}},
            "/mcp": {
              "post": {"summary": "MCP Streamable HTTP: one JSON-RPC message (initialize, ping, tools/list, tools/call, prompts/list, prompts/get, resources/list, resources/templates/list, resources/read) to the federated MCP servers. Needs Mcp-Session-Id after initialize.", "parameters": [{"name": "Mcp-Session-Id", "in": "header", "schema": {"type": "string"}}, {"name": "MCP-Protocol-Version", "in": "header", "schema": {"type": "string", "enum": ["2025-11-25", "2025-06-18", "2025-03-26"]}}], "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["jsonrpc"], "properties": {"jsonrpc": {"const": "2.0"}, "id": {"type": ["string", "integer"]}, "method": {"type": "string"}, "params": {"type": "object"}}}}}}, "responses": {"200": {"description": "A JSON-RPC response (application/json, or one text/event-stream event when the client accepts only SSE); initialize sets Mcp-Session-Id"}, "202": {"description": "A notification or response was accepted"}, "400": {"description": "Not JSON-RPC, a batch, no session id, or an unsupported MCP-Protocol-Version"}, "401": {"description": "No or a bad credential; WWW-Authenticate: Bearer resource_metadata=\"...\""}, "404": {"description": "The session ended or expired"}}},
              "get": {"summary": "No server-initiated stream: always 405.", "responses": {"405": {"description": "Allow: POST, DELETE"}}},
              "delete": {"summary": "Ends the session named by Mcp-Session-Id.", "parameters": [{"name": "Mcp-Session-Id", "in": "header", "required": true, "schema": {"type": "string"}}], "responses": {"204": {"description": "Ended"}, "404": {"description": "No such session of this caller"}}}
            },
            "/mcp/sse": {"get": {"summary": "The legacy MCP HTTP+SSE transport (2024-11-05): an event stream whose first event (endpoint) names /mcp/messages?session_id=...; answers to the messages POSTed there arrive as message events. Closing it ends the session.", "responses": {"200": {"description": "text/event-stream"}, "401": {"description": "No or a bad credential; WWW-Authenticate: Bearer resource_metadata=\"...\""}, "503": {"description": "mcp.max_sessions streams are open"}}}},
            "/mcp/messages": {"post": {"summary": "A JSON-RPC message of a legacy SSE session, handled as POST /mcp; its answer goes on the session's stream.", "parameters": [{"name": "session_id", "in": "query", "required": true, "schema": {"type": "string"}}], "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["jsonrpc"]}}}}, "responses": {"202": {"description": "Accepted; the answer follows on the stream"}, "400": {"description": "Not JSON-RPC, or a batch"}, "404": {"description": "No open stream with this id for this caller"}}}},
            "/.well-known/oauth-protected-resource": {"get": {"summary": "OAuth protected resource metadata (RFC 9728) of /mcp: resource, authorization servers (the JWT issuers).", "security": [], "responses": {"200": {"description": "{resource, authorization_servers, bearer_methods_supported}"}}}},
            "/.well-known/oauth-protected-resource/mcp": {"get": {"summary": "The same, at the path RFC 9728 derives from /mcp.", "security": [], "responses": {"200": {"description": "{resource, authorization_servers, bearer_methods_supported}"}}}},
            "/metrics": {"get": {"summary": "Prometheus text format. Needs server.operational_token when set.", "security": [], "responses": {"200": {"description": "text/plain; version=0.0.4"}, "401": {"description": "Operational token missing"}}}},
            "/ui": {"get": {"summary": "Dashboard overview (HTML; dashboard session, else 303 to /ui/login).", "security": [{"dashboardSession": []}], "responses": {"200": {"description": "text/html"}, "303": {"description": "To /ui/login"}}}},
            "/ui/{page}": {"parameters": [{"name": "page", "in": "path", "required": true, "schema": {"type": "string"}}], "get": {"summary": "Any other dashboard path: 404 page inside the dashboard.", "security": [{"dashboardSession": []}], "responses": {"404": {"description": "text/html"}, "303": {"description": "To /ui/login"}}}},
            "/ui/models": {"get": {"summary": "Dashboard: models and deployments with health and breaker state.", "security": [{"dashboardSession": []}], "responses": {"200": {"description": "text/html"}}}},
            "/ui/keys": {"get": {"summary": "Dashboard: keys and teams with usage and budgets.", "security": [{"dashboardSession": []}], "responses": {"200": {"description": "text/html"}}}},
            "/ui/requests": {"get": {"summary": "Dashboard: the request log (model, key, team, status, errors, cursor filters).", "security": [{"dashboardSession": []}], "responses": {"200": {"description": "text/html"}}}},
            "/ui/requests/{id}": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "get": {"summary": "Dashboard: one request.", "security": [{"dashboardSession": []}], "responses": {"200": {"description": "text/html"}, "404": {"description": "No such request"}}}},
            "/ui/mcp": {"get": {"summary": "Dashboard: MCP servers with their health and tools, and the recent MCP calls (server, actor, limit, before filters; calls within the admin's scope).", "security": [{"dashboardSession": []}], "responses": {"200": {"description": "text/html"}}}},
            "/ui/audit": {"get": {"summary": "Dashboard: the audit trail and its verification (master key or admin).", "security": [{"dashboardSession": []}], "responses": {"200": {"description": "text/html"}}}},
            "/ui/config": {"get": {"summary": "Dashboard: the running configuration, secrets redacted (master key or admin).", "security": [{"dashboardSession": []}], "responses": {"200": {"description": "text/html"}}}},
            "/ui/login": {
              "get": {"summary": "Dashboard sign-in form.", "security": [], "responses": {"200": {"description": "text/html"}}},
              "post": {"summary": "Sign in with the master key or an admin virtual key (form field key); sets the session cookie.", "security": [], "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"key": {"type": "string"}, "next": {"type": "string"}}}}}}, "responses": {"303": {"description": "To /ui or the page asked for"}, "401": {"description": "Wrong key"}, "429": {"description": "Too many failed attempts"}}}
            },
            "/ui/logout": {"post": {"summary": "End the dashboard session (CSRF token required).", "security": [{"dashboardSession": []}], "responses": {"303": {"description": "To /ui/login"}}}},
            "/admin/keys": {
              "post": {
                "summary": "Create a virtual key; the key is in the answer once and never stored.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KeyRequest"}}}},
                "responses": {
                  "201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KeyWithSecret"}}}},
                  "400": {"description": "Invalid request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "403": {"description": "Not the master key"}
                }
              },
              "get": {
                "summary": "List keys (never their secrets).",
                "responses": {"200": {"description": "Keys", "content": {"application/json": {"schema": {
                  "type": "object", "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}}}}}}}
              }
            },
            "/admin/keys/{id}": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "get": {"summary": "One key.", "responses": {"200": {"description": "The key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "404": {"description": "No such key"}}},
              "delete": {"summary": "Revoke a key.", "responses": {"200": {"description": "Revoked", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "404": {"description": "No such key"}}}
            },
            "/admin/keys/{id}/revoke": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "post": {"summary": "Revoke a key; it stops working on the next request.", "responses": {"200": {"description": "Revoked", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "404": {"description": "No such key"}}}
            },
            "/admin/keys/{id}/rotate": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "post": {"summary": "Give a key a new secret (shown once); the old one stops working.", "responses": {"200": {"description": "Rotated", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KeyWithSecret"}}}}, "400": {"description": "The key is revoked"}, "404": {"description": "No such key"}}}
            },
            "/admin/usage": {
              "get": {
                "summary": "Usage and cost from the ledger, grouped and filtered.",
                "parameters": [
                {"name": "group_by", "in": "query", "schema": {"type": "string"}, "description": "Comma-separated: key, user, end_user, team, org, model, requested_model, provider, deployment, day, endpoint, status."},
                {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "2026-11-01, 2026-11-01T12:00:00Z or Unix seconds."},
                {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "Exclusive; same forms as from."},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
                {"name": "key", "in": "query", "schema": {"type": "string"}}, {"name": "user", "in": "query", "schema": {"type": "string"}},
                {"name": "end_user", "in": "query", "schema": {"type": "string"}}, {"name": "team", "in": "query", "schema": {"type": "string"}},
                {"name": "org", "in": "query", "schema": {"type": "string"}}, {"name": "model", "in": "query", "schema": {"type": "string"}},
                {"name": "provider", "in": "query", "schema": {"type": "string"}}, {"name": "deployment", "in": "query", "schema": {"type": "string"}}
              ],
                "responses": {"200": {"description": "Usage", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Usage"}}}}, "400": {"description": "Unknown group_by or bad date"}}
              }
            },
            "/admin/spend": {
              "get": {
                "summary": "Spend grouped by key (or group_by), with every budget in force and what it has used this period.",
                "parameters": [
                {"name": "group_by", "in": "query", "schema": {"type": "string"}, "description": "Comma-separated: key, user, end_user, team, org, model, requested_model, provider, deployment, day, endpoint, status."},
                {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "2026-11-01, 2026-11-01T12:00:00Z or Unix seconds."},
                {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "Exclusive; same forms as from."},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
                {"name": "key", "in": "query", "schema": {"type": "string"}}, {"name": "user", "in": "query", "schema": {"type": "string"}},
                {"name": "end_user", "in": "query", "schema": {"type": "string"}}, {"name": "team", "in": "query", "schema": {"type": "string"}},
                {"name": "org", "in": "query", "schema": {"type": "string"}}, {"name": "model", "in": "query", "schema": {"type": "string"}},
                {"name": "provider", "in": "query", "schema": {"type": "string"}}, {"name": "deployment", "in": "query", "schema": {"type": "string"}}
              ],
                "responses": {"200": {"description": "Spend", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Usage"}}}}}
              }
            },
            "/v1/usage": {
              "get": {
                "summary": "The calling key's own usage (grouped by day and model by default) and its budgets. Any virtual key may call it.",
                "parameters": [
                  {"name": "group_by", "in": "query", "schema": {"type": "string"}},
                  {"name": "from", "in": "query", "schema": {"type": "string"}}, {"name": "to", "in": "query", "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "Usage", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Usage"}}}}}
              }
            },
            "/admin/orgs": {
              "post": {
                "summary": "Create or replace a organisation (by id).",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DirectoryEntry"}}}},
                "responses": {"201": {"description": "Saved", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DirectoryEntry"}}}}, "400": {"description": "Invalid"}, "403": {"description": "Outside the caller's scope"}}
              },
              "get": {"summary": "List orgs in the caller's scope.", "responses": {"200": {"description": "Entries"}}}
            },
            "/admin/orgs/{id}": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "get": {"summary": "One organisation.", "responses": {"200": {"description": "The entry", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DirectoryEntry"}}}}, "404": {"description": "None in scope"}}},
              "delete": {"summary": "Delete a organisation.", "responses": {"200": {"description": "Deleted"}, "404": {"description": "None in scope"}}}
            },
            "/admin/teams": {
              "post": {
                "summary": "Create or replace a team (by id).",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DirectoryEntry"}}}},
                "responses": {"201": {"description": "Saved", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DirectoryEntry"}}}}, "400": {"description": "Invalid"}, "403": {"description": "Outside the caller's scope"}}
              },
              "get": {"summary": "List teams in the caller's scope.", "responses": {"200": {"description": "Entries"}}}
            },
            "/admin/teams/{id}": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "get": {"summary": "One team.", "responses": {"200": {"description": "The entry", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DirectoryEntry"}}}}, "404": {"description": "None in scope"}}},
              "delete": {"summary": "Delete a team.", "responses": {"200": {"description": "Deleted"}, "404": {"description": "None in scope"}}}
            },
            "/admin/users": {
              "post": {
                "summary": "Create or replace a user (by id).",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DirectoryEntry"}}}},
                "responses": {"201": {"description": "Saved", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DirectoryEntry"}}}}, "400": {"description": "Invalid"}, "403": {"description": "Outside the caller's scope"}}
              },
              "get": {"summary": "List users in the caller's scope.", "responses": {"200": {"description": "Entries"}}}
            },
            "/admin/users/{id}": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "get": {"summary": "One user.", "responses": {"200": {"description": "The entry", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DirectoryEntry"}}}}, "404": {"description": "None in scope"}}},
              "delete": {"summary": "Delete a user.", "responses": {"200": {"description": "Deleted"}, "404": {"description": "None in scope"}}}
            },
            "/admin/logs": {
              "get": {
                "summary": "The request log, newest first (no bodies); filters as /admin/usage plus outcome, cache and errors=true.",
                "parameters": [
                  {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "2026-11-01, 2026-11-01T12:00:00Z or Unix seconds."},
                  {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "Exclusive; same forms as from."},
                  {"name": "key", "in": "query", "schema": {"type": "string"}}, {"name": "team", "in": "query", "schema": {"type": "string"}},
                  {"name": "org", "in": "query", "schema": {"type": "string"}}, {"name": "model", "in": "query", "schema": {"type": "string"}},
                  {"name": "deployment", "in": "query", "schema": {"type": "string"}}, {"name": "status", "in": "query", "schema": {"type": "string"}},
                  {"name": "errors", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
                  {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                  {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page."}
                ],
                "responses": {"200": {"description": "data, has_more, next_cursor"}, "400": {"description": "Bad filter or cursor"}}
              }
            },
            "/admin/logs/{id}": {
              "get": {
                "summary": "One request: usage, latencies, attempts, guardrail decisions, logged (redacted) bodies.",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The record"}, "404": {"description": "Not in the log"}}
              }
            },
            "/admin/analytics/summary": {
              "get": {
                "summary": "Totals, error rate, cache hits and savings, latency percentiles, top keys, models and end users.",
                "parameters": [{"name": "from", "in": "query", "schema": {"type": "string"}, "description": "2026-11-01, 2026-11-01T12:00:00Z or Unix seconds."},
                  {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "Exclusive; same forms as from."},
                  {"name": "key", "in": "query", "schema": {"type": "string"}}, {"name": "team", "in": "query", "schema": {"type": "string"}},
                  {"name": "org", "in": "query", "schema": {"type": "string"}}, {"name": "model", "in": "query", "schema": {"type": "string"}},
                  {"name": "deployment", "in": "query", "schema": {"type": "string"}}, {"name": "status", "in": "query", "schema": {"type": "string"}}, {"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                "responses": {"200": {"description": "Summary"}}
              }
            },
            "/admin/analytics/latency": {
              "get": {
                "summary": "p50/p90/p99 of duration, time to first token, upstream and gateway time per group (default model).",
                "parameters": [{"name": "from", "in": "query", "schema": {"type": "string"}, "description": "2026-11-01, 2026-11-01T12:00:00Z or Unix seconds."},
                  {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "Exclusive; same forms as from."},
                  {"name": "key", "in": "query", "schema": {"type": "string"}}, {"name": "team", "in": "query", "schema": {"type": "string"}},
                  {"name": "org", "in": "query", "schema": {"type": "string"}}, {"name": "model", "in": "query", "schema": {"type": "string"}},
                  {"name": "deployment", "in": "query", "schema": {"type": "string"}}, {"name": "status", "in": "query", "schema": {"type": "string"}}, {"name": "group_by", "in": "query", "schema": {"type": "string"}, "description": "One dimension: model, deployment, provider, key, team…"}],
                "responses": {"200": {"description": "Percentiles per group"}, "400": {"description": "Bad group_by"}}
              }
            },
            "/admin/analytics/timeseries": {
              "get": {
                "summary": "Requests, errors, tokens, cost and cache savings per time bucket, optionally per group.",
                "parameters": [{"name": "from", "in": "query", "schema": {"type": "string"}, "description": "2026-11-01, 2026-11-01T12:00:00Z or Unix seconds."},
                  {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "Exclusive; same forms as from."},
                  {"name": "key", "in": "query", "schema": {"type": "string"}}, {"name": "team", "in": "query", "schema": {"type": "string"}},
                  {"name": "org", "in": "query", "schema": {"type": "string"}}, {"name": "model", "in": "query", "schema": {"type": "string"}},
                  {"name": "deployment", "in": "query", "schema": {"type": "string"}}, {"name": "status", "in": "query", "schema": {"type": "string"}},
                  {"name": "interval", "in": "query", "schema": {"type": "string"}, "description": "minute, hour (default), day or seconds (>= 10)."},
                  {"name": "group_by", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Buckets"}, "400": {"description": "Bad interval"}}
              }
            },
            "/admin/audit": {
              "get": {
                "summary": "Audit records, oldest first (master key or admin).",
                "parameters": [
                  {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["authentication", "authorization", "admin", "config"]}},
                  {"name": "actor", "in": "query", "schema": {"type": "string"}},
                  {"name": "after", "in": "query", "schema": {"type": "integer"}, "description": "Only records after this sequence number."},
                  {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                ],
                "responses": {"200": {"description": "Records", "content": {"application/json": {"schema": {
                  "type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/AuditRecord"}}}}}}}}
              }
            },
            "/admin/audit/verify": {
              "get": {
                "summary": "Check the whole hash chain.",
                "responses": {"200": {"description": "intact, records, first_broken {seq, problem}"}}
              }
            },
            "/utils/token_counter": {
              "post": {
                "summary": "Count a prompt's tokens with the tokenizer of the model that would answer.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["model"],
                  "properties": {"model": {"type": "string"}, "messages": {"type": "array"}, "prompt": {"type": "string"}}}}}},
                "responses": {"200": {"description": "total_tokens, model_used, tokenizer_type (o200k_base, cl100k_base or estimate)"}}
              }
            },
            "/v1/route/explain": {
              "post": {
                "summary": "Where a request would be routed and why, without calling a model.",
                "parameters": [{"name": "endpoint", "in": "query", "schema": {"type": "string", "enum": ["chat_completions", "completions", "embeddings", "rerank", "moderations"]}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "description": "A request as for the endpoint."}}}},
                "responses": {"200": {"description": "The explanation: rule, model_group, candidates with exclusion reasons, selected, fallbacks"}}
              }
            },
            "/v1/files": {
              "post": {
                "summary": "Upload a file (OpenAI's files.create): multipart/form-data with purpose and file, streamed to disk up to files.max_file_size. A batch file must be JSONL. The file belongs to the caller's key and team.",
                "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["purpose", "file"],
                  "properties": {"purpose": {"type": "string", "enum": ["batch", "assistants", "fine-tune", "vision", "user_data", "evals"]}, "file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"200": {"description": "The file object: id, object, bytes, created_at, filename, purpose, status"}, "413": {"$ref": "#/components/responses/Error"}, "default": {"$ref": "#/components/responses/Error"}}
              },
              "get": {
                "summary": "The caller's (and its team's) files, newest first.",
                "parameters": [{"name": "purpose", "in": "query", "schema": {"type": "string"}}, {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
                  {"name": "after", "in": "query", "schema": {"type": "string"}}, {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}}],
                "responses": {"200": {"description": "A list: data, first_id, last_id, has_more"}}
              }
            },
            "/v1/files/{id}": {
              "get": {"summary": "A file's object (404 for anyone but its owner and the owner's team).", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The file object"}, "404": {"$ref": "#/components/responses/Error"}}},
              "delete": {"summary": "Deletes a file and its contents.", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "{id, object: file, deleted: true}"}, "404": {"$ref": "#/components/responses/Error"}}}
            },
            "/v1/files/{id}/content": {
              "get": {"summary": "A file's contents (streamed).", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The bytes", "content": {"application/octet-stream": {}}}, "404": {"$ref": "#/components/responses/Error"}}}
            },
            "/v1/batches": {
              "post": {
                "summary": "Create a batch (OpenAI's batches.create): the gateway runs every line of a batch file through its pipeline as the caller, at batches.requests_per_second, priced with batches.discount.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["input_file_id", "endpoint", "completion_window"],
                  "properties": {"input_file_id": {"type": "string"}, "endpoint": {"type": "string", "enum": ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]},
                    "completion_window": {"type": "string", "enum": ["24h"]}, "metadata": {"type": "object", "additionalProperties": {"type": "string"}}}}}}},
                "responses": {"200": {"description": "The batch object (status validating)"}, "default": {"$ref": "#/components/responses/Error"}}
              },
              "get": {
                "summary": "The caller's (and its team's) batches, newest first.",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}, {"name": "after", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "A list: data, first_id, last_id, has_more"}}
              }
            },
            "/v1/batches/{id}": {
              "get": {"summary": "A batch: status (validating, in_progress, finalizing, completed, cancelling, cancelled, failed, expired), request_counts, output_file_id, error_file_id.",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The batch object"}, "404": {"$ref": "#/components/responses/Error"}}}
            },
            "/v1/batches/{id}/cancel": {
              "post": {"summary": "Cancels a batch: lines in flight finish, no other starts; what ran is in the output and error files.",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The batch object (cancelling or cancelled)"}, "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}}
            },
            "/v1/rerank": {
              "post": {
                "summary": "Rank documents by relevance to a query (Cohere's shape; OpenAI-compatible rerank servers such as vLLM and Jina, and Cohere's Rerank v2). Any key; limits, budgets and the ledger apply.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["model", "query", "documents"],
                  "properties": {"model": {"type": "string"}, "query": {"type": "string"},
                    "documents": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"text": {"type": "string"}}}]}},
                    "top_n": {"type": "integer", "minimum": 1}, "return_documents": {"type": "boolean"}, "max_tokens_per_doc": {"type": "integer", "minimum": 1}}}}}},
                "responses": {
                  "200": {"description": "results: [{index, relevance_score, document?}] best first; usage or meta as the provider sent them"},
                  "400": {"description": "Invalid request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/v1/moderations": {
              "post": {
                "summary": "OpenAI's moderations: the configured moderation model, or the gateway's own content detectors (model switchyard-moderation). Any key; limits, budgets and the ledger apply.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["input"],
                  "properties": {"model": {"type": "string", "description": "Omitted: omni-moderation-latest when configured, else the gateway's detectors."},
                    "input": {"oneOf": [{"type": "string"}, {"type": "array", "minItems": 1}]}}}}}},
                "responses": {
                  "200": {"description": "OpenAI's shape: id, model, results: [{flagged, categories, category_scores, category_applied_input_types}]. Header x-switchyard-moderation: provider or gateway.",
                    "headers": {"x-switchyard-moderation": {"schema": {"type": "string", "enum": ["provider", "gateway"]}}}},
                  "400": {"description": "Invalid request (the gateway's detectors judge text only)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            }
          }
        }
        """#
}
