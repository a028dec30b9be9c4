/// The OpenAPI 3.1 description of the admin API, served at `GET /admin/openapi.json`.
enum AdminOpenAPI {
    static let document = #"""
        {
          "openapi": "3.1.0",
          "info": {"title": "Switchyard admin API", "version": "1"},
          "components": {
            "securitySchemes": {"masterKey": {"type": "http", "scheme": "bearer", "description": "The gateway's master key."}},
            "schemas": {
              "KeyRequest": {
                "type": "object", "required": ["name"],
                "properties": {
                  "name": {"type": "string"},
                  "models": {"type": "array", "items": {"type": "string"}, "description": "Allowed model groups; omitted: all."},
                  "endpoints": {"type": "array", "items": {"type": "string", "enum": ["chat_completions", "completions", "embeddings", "messages"]}},
                  "regions": {"type": "array", "items": {"type": "string"}},
                  "tier": {"type": "string", "description": "A tier of limits.tiers."},
                  "organization_id": {"type": "string"}, "team_id": {"type": "string"}, "user_id": {"type": "string"},
                  "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                  "expires_at": {"type": "number", "description": "Unix seconds."},
                  "expires_in": {"type": "string", "examples": ["30d", "12h", "90m"]}
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
                  "metadata": {"type": "object", "additionalProperties": {"type": "string"}}
                }
              },
              "KeyWithSecret": {
                "allOf": [{"$ref": "#/components/schemas/Key"}, {"type": "object", "properties": {"key": {"type": "string", "description": "Shown once."}}}]
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
            "/v1/route/explain": {
              "post": {
                "summary": "Where a request would be routed and why, without calling a model.",
                "parameters": [{"name": "endpoint", "in": "query", "schema": {"type": "string", "enum": ["chat_completions", "completions", "embeddings"]}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "description": "A request as for the endpoint."}}}},
                "responses": {"200": {"description": "The explanation: rule, model_group, candidates with exclusion reasons, selected, fallbacks"}}
              }
            }
          }
        }
        """#
}
