import AsyncHTTPClient
import CoreMetrics
import Logging
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Delivers budget alerts: a log line, `switchyard_budget_alerts_total`, and a JSON POST to
/// `budgets.webhook` when one is configured, retried with backoff (4 tries over about 7 s).
struct BudgetAlertNotifier: BudgetAlertSink {
    let logger: Logger
    let metrics: GatewayMetrics
    let runtime: RuntimeHolder
    let client: HTTPClient

    func budgetAlert(_ alert: BudgetAlert) {
        LoggingBudgetAlerts(logger: logger).budgetAlert(alert)
        metrics.counter(
            "switchyard_budget_alerts_total", [("scope", alert.scope.rawValue), ("threshold", String(Int((alert.threshold * 100).rounded())))]
        ).increment()
        guard let url = runtime.snapshot.config.budgets.webhookURL else { return }
        let body: JSONValue = [
            "type": "budget_alert", "scope": .string(alert.scope.rawValue), "id": .string(alert.value),
            "period": .string(alert.period.rawValue), "period_id": .string(alert.periodID), "threshold": JSONValue(alert.threshold),
            "spent_usd": JSONValue(alert.spentUSD), "limit_usd": JSONValue(alert.limitUSD),
            "at": .string(CivilDate.iso8601(Int64(WallClock.unixTime()))),
        ]
        let (client, logger) = (self.client, self.logger)
        Task { await Self.deliver(body.serializedBytes(), to: url, client: client, logger: logger) }
    }

    static func deliver(_ body: [UInt8], to url: String, client: HTTPClient, logger: Logger, attempts: Int = 4) async {
        var delay = Duration.milliseconds(500)
        for attempt in 1...attempts {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "user-agent", value: "switchyard-budget-alerts")
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await client.execute(request, timeout: .seconds(5))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(response.status.code) { return }
                logger.warning(
                    "budget webhook refused the alert",
                    metadata: ["status": .stringConvertible(response.status.code), "attempt": .stringConvertible(attempt)])
            } catch {
                logger.warning("budget webhook unreachable", metadata: ["error": .string("\(error)"), "attempt": .stringConvertible(attempt)])
            }
            if attempt < attempts {
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
        logger.error("budget alert not delivered to the webhook after \(attempts) attempts")
    }
}
