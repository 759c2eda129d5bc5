import Glibc
import PosixIO

extension BenchmarkHarness.Machine {
    /// The machine the figures were measured on: CPU model, online cores, kernel, how this binary was built,
    /// and the load average (other work running beside the benchmark shows up in the tails).
    static func current() -> Self {
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        return Self(cpuModel: cpuModel(), cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), kernel: kernel(), build: build,
                    loadAverageAtStart: loadAverage(), loadAverageAtEnd: nil)
    }

    static func cpuModel() -> String {
        guard let bytes = try? StorageDirectory.readFile("/proc/cpuinfo") else { return "unknown" }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: " \t")
            // x86 says "model name"; arm64 kernels often give only "CPU part" and "Hardware"/"Model".
            if key == "model name" || key == "Model" { return parts[1].trimmingCharacters(in: " \t") }
        }
        return "unknown"
    }

    static func kernel() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "unknown" }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(text(name.sysname)) \(text(name.release)) \(text(name.machine))"
    }

    /// The 1, 5 and 15 minute load averages as the kernel prints them.
    static func loadAverage() -> String {
        guard let bytes = try? StorageDirectory.readFile("/proc/loadavg") else { return "unknown" }
        return String(decoding: bytes, as: UTF8.self).split(separator: " ").prefix(3).joined(separator: " ")
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
