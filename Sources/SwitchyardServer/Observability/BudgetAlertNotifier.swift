import CoreMetrics
import Logging
import SwitchyardCore

/// Delivers budget alerts: a log line, `switchyard_budget_alerts_total`, and a JSON POST to
/// `budgets.webhook` when one is configured, retried with backoff (4 tries over about 7 s).
struct BudgetAlertNotifier: BudgetAlertSink {
    let logger: Logger
    let metrics: GatewayMetrics
    let runtime: RuntimeHolder
    let client: any WebhookClient

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

    static func deliver(_ body: [UInt8], to url: String, client: any WebhookClient, logger: Logger, attempts: Int = 4) async {
        let delivery = WebhookDelivery(client: client, attempts: attempts, retryable: { _ in true })
        let headers = [HeaderField("content-type", "application/json"), HeaderField("user-agent", "switchyard-budget-alerts")]
        let problem = await delivery.post(url: url, headers: headers, body: body, timeout: .seconds(5)) { attempt, status, error in
            if let status {
                logger.warning(
                    "budget webhook refused the alert", metadata: ["status": .stringConvertible(status), "attempt": .stringConvertible(attempt)])
            } else {
                logger.warning("budget webhook unreachable", metadata: ["error": .string("\(error!)"), "attempt": .stringConvertible(attempt)])
            }
        }
        if problem != nil { logger.error("budget alert not delivered to the webhook after \(attempts) attempts") }
    }
}
