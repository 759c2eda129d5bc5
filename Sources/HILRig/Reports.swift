/// The run's results for CI dashboards (JUnit XML) and for tools (JSON with the measured intervals).
public enum RigReports {
    public static func junit(_ results: [ScenarioResult], suite: String) -> String {
        let failures = results.filter { !$0.passed }.count
        let total = results.reduce(0) { $0 + $1.durationMilliseconds } / 1000
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites tests=\"\(results.count)\" failures=\"\(failures)\" time=\"\(seconds(total))\">\n"
        xml += "  <testsuite name=\"\(escape(suite))\" tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"0\" time=\"\(seconds(total))\">\n"
        for result in results {
            xml += "    <testcase classname=\"\(escape(suite))\" name=\"\(escape(result.name))\" file=\"\(escape(result.file))\" time=\"\(seconds(result.durationMilliseconds / 1000))\""
            if let failure = result.failure {
                xml += ">\n      <failure message=\"\(escape(failure))\"/>\n    </testcase>\n"
            } else if result.intervals.isEmpty {
                xml += "/>\n"
            } else {
                xml += ">\n      <properties>\n"
                for interval in result.intervals {
                    xml += "        <property name=\"\(escape(interval.name))_ms\" value=\"\(number(interval.milliseconds))\"/>\n"
                }
                xml += "      </properties>\n    </testcase>\n"
            }
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }

    public static func json(_ results: [ScenarioResult], rig: String) -> String {
        var out = "{\n  \"rig\": \(quote(rig)),\n  \"passed\": \(results.allSatisfy(\.passed)),\n  \"scenarios\": [\n"
        out += results.map { result in
            var entry = "    {\"name\": \(quote(result.name)), \"file\": \(quote(result.file)), \"passed\": \(result.passed), "
            entry += "\"durationMs\": \(number(result.durationMilliseconds)), "
            entry += "\"failure\": \(result.failure.map(quote) ?? "null"), \"intervalsMs\": {"
            entry += result.intervals.map { "\(quote($0.name)): \(number($0.milliseconds))" }.joined(separator: ", ")
            return entry + "}}"
        }.joined(separator: ",\n")
        return out + "\n  ]\n}\n"
    }

    static func seconds(_ value: Double) -> String { number(value) }

    static func number(_ value: Double) -> String {
        let thousandths = Int64((value * 1000).rounded())
        let sign = thousandths < 0 ? "-" : ""
        let magnitude = abs(thousandths)
        var fraction = String(magnitude % 1000)
        while fraction.count < 3 { fraction = "0" + fraction }
        return "\(sign)\(magnitude / 1000).\(fraction)"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 has no way to carry most control characters, even escaped.
                out += scalar.value < 0x20 && scalar != "\n" && scalar != "\t" ? "?" : String(scalar)
            }
        }
        return out
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
