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
                  "endpoints": {"type": "array", "items": {"type": "string", "enum": ["chat_completions", "completions", "embeddings", "messages", "responses", "rerank", "moderations"]}},
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
