// Printing the results table and saving it as CSV and JSON (for tracking results over time).
#include "report.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace bench {

std::string fmt_value(double v) {
    char buf[64];
    const double a = std::fabs(v);
    if (a == 0)
        std::snprintf(buf, sizeof buf, "0");
    else if (a >= 100)
        std::snprintf(buf, sizeof buf, "%.0f", v);
    else if (a >= 10)
        std::snprintf(buf, sizeof buf, "%.1f", v);
    else if (a >= 1)
        std::snprintf(buf, sizeof buf, "%.2f", v);
    else if (a >= 0.01)
        std::snprintf(buf, sizeof buf, "%.3f", v);
    else
        std::snprintf(buf, sizeof buf, "%.2e", v);
    return buf;
}

namespace {

std::string cell(const std::optional<Stats>& s) {
    if (!s) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, " ±%.0f%%", s->spread() * 100);
    return fmt_value(s->median) + (s->count > 1 ? buf : "");
}

std::string compare_cell(const Row& r) {
    if (!r.compare) return "-";
    if (r.compare_kind == "diff") return (*r.compare >= 0 ? "+" : "") + fmt_value(*r.compare);
    if (r.compare_kind == "ratio") {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", *r.compare);
        return buf;
    }
    return fmt_value(*r.compare);
}

std::string met_cell(const Row& r) { return !r.met ? "" : (*r.met ? "yes" : "NO"); }

std::string csv_escape(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string json_stats(const std::optional<Stats>& s) {
    if (!s) return "null";
    std::ostringstream o;
    o << "{\"median\": " << json_number(s->median) << ", \"p25\": " << json_number(s->p25)
      << ", \"p75\": " << json_number(s->p75) << ", \"min\": " << json_number(s->min)
      << ", \"max\": " << json_number(s->max) << ", \"count\": " << s->count << "}";
    return o.str();
}

std::ofstream open_for_writing(const std::string& path) {
    std::ofstream f(path);
    if (!f) throw std::runtime_error("cannot write " + path);
    return f;
}

}  // namespace

std::string format_table(const RunInfo& info, const std::vector<Row>& rows, bool markdown) {
    const std::vector<std::string> head{"workload", "unit",   "tapegrad", "libtorch",
                                        "tg/torch", "target", "met",      "note"};
    std::vector<std::vector<std::string>> cells;
    for (const Row& r : rows)
        cells.push_back(
            {r.workload, r.unit, cell(r.tapegrad), cell(r.libtorch), compare_cell(r), r.target, met_cell(r), r.note});
    std::ostringstream o;
    o << (markdown ? "" : "# ") << info.date << ", " << info.threads << " thread" << (info.threads == 1 ? "" : "s")
      << ", " << info.host << (info.load.empty() ? "" : ", load average " + info.load)
      << (info.real_data ? "" : ", SYNTHETIC DATA (Fashion-MNIST not installed)")
      << (info.libtorch ? "" : ", libtorch not found: tapegrad only") << "\n";
    if (!info.versions.empty()) o << (markdown ? "" : "# ") << info.versions << "\n";
    if (!info.build.empty()) {  // what tapegrad runs on, one line each
        if (markdown) o << "\n";
        std::istringstream lines(info.build);
        for (std::string l; std::getline(lines, l);) o << (markdown ? "- " : "# ") << l << "\n";
    }
    if (markdown) {
        o << "\n|";
        for (const auto& h : head) o << " " << h << " |";
        o << "\n|";
        for (std::size_t i = 0; i < head.size(); ++i) o << (i < 2 || i == 7 ? "---|" : "--:|");
        o << "\n";
        for (const auto& row : cells) {
            o << "|";
            for (const auto& c : row) o << " " << c << " |";
            o << "\n";
        }
        return o.str();
    }
    std::vector<std::size_t> width(head.size());
    for (std::size_t i = 0; i < head.size(); ++i) {
        width[i] = head[i].size();
        for (const auto& row : cells) width[i] = std::max(width[i], row[i].size());
    }
    auto line = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            const bool left = i < 2 || i == 7;
            const std::string pad(width[i] - row[i].size(), ' ');
            o << (left ? row[i] + pad : pad + row[i]) << (i + 1 < row.size() ? "  " : "");
        }
        o << "\n";
    };
    line(head);
    for (const auto& row : cells) line(row);
    return o.str();
}

void write_csv(const std::string& path, const RunInfo& info, const std::vector<Row>& rows) {
    auto f = open_for_writing(path);
    f << "date,threads,workload,unit,tapegrad_median,tapegrad_p25,tapegrad_p75,libtorch_median,libtorch_p25,"
         "libtorch_p75,compare_kind,compare,target,met,note\n";
    auto stats = [&](const std::optional<Stats>& s) {
        if (!s) return std::string(",,");
        return json_number(s->median) + "," + json_number(s->p25) + "," + json_number(s->p75);
    };
    for (const Row& r : rows) {
        f << info.date << "," << info.threads << "," << csv_escape(r.workload) << "," << csv_escape(r.unit) << ","
          << stats(r.tapegrad) << "," << stats(r.libtorch) << "," << r.compare_kind << ","
          << (r.compare ? json_number(*r.compare) : "") << "," << csv_escape(r.target) << ","
          << (r.met ? (*r.met ? "yes" : "no") : "") << "," << csv_escape(r.note) << "\n";
    }
}

void write_json(const std::string& path, const RunInfo& info, const std::vector<Row>& rows) {
    auto f = open_for_writing(path);
    f << "{\n  \"date\": " << json_string(info.date) << ",\n  \"threads\": " << info.threads
      << ",\n  \"host\": " << json_string(info.host) << ",\n  \"load_average\": " << json_string(info.load)
      << ",\n  \"libtorch\": " << (info.libtorch ? "true" : "false")
      << ",\n  \"real_data\": " << (info.real_data ? "true" : "false")
      << ",\n  \"versions\": " << json_string(info.versions) << ",\n  \"build\": " << json_string(info.build)
      << ",\n  \"rows\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        f << "    {\"workload\": " << json_string(r.workload) << ", \"unit\": " << json_string(r.unit)
          << ", \"tapegrad\": " << json_stats(r.tapegrad) << ", \"libtorch\": " << json_stats(r.libtorch)
          << ", \"compare_kind\": " << json_string(r.compare_kind)
          << ", \"compare\": " << (r.compare ? json_number(*r.compare) : "null")
          << ", \"target\": " << json_string(r.target)
          << ", \"met\": " << (r.met ? (*r.met ? "true" : "false") : "null") << ", \"note\": " << json_string(r.note)
          << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    f << "  ]\n}\n";
}

}  // namespace bench
