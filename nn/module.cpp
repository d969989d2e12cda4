// Module<T>: registration, recursive traversal of parameters and buffers, train/eval and the printout.
#include <tapegrad/nn/module.hpp>

#include <cxxabi.h>
#include <cstdlib>
#include <fmt/format.h>
#include <ostream>
#include <set>
#include <typeinfo>

namespace tapegrad::nn {

namespace {

// Which layer holds the dotted state name, and what it is called there: "parameter 'weight' of
// layer 6, Linear(...)" for "6.weight" in a Sequential, so that a load error points at the layer
// to fix rather than at the whole model. `found` is false when no module has that name.
template <class T>
std::string owner_of(const Module<T>& root, const std::string& name, bool& found) {
    const Module<T>* module = &root;
    std::string path, rest = name;
    for (std::size_t dot; (dot = rest.find('.')) != std::string::npos;) {
        const Module<T>* child = nullptr;
        for (const auto& [n, c] : module->named_children())
            if (n == rest.substr(0, dot)) child = c.get();
        if (!child) break;
        path += (path.empty() ? "" : ".") + rest.substr(0, dot);
        module = child;
        rest.erase(0, dot + 1);
    }
    const std::string layer = path.empty() ? module->describe() : "layer " + path + ", " + module->describe() + ",";
    auto own = [&](const NamedVariables<T>& entries) {
        for (const auto& [n, v] : entries)
            if (n == rest) return true;
        return false;
    };
    found = rest.find('.') == std::string::npos && (own(module->named_parameters()) || own(module->named_buffers()));
    if (!found) {
        const std::size_t dot = rest.find('.');
        return dot == std::string::npos ? fmt::format("{} has no parameter or buffer '{}'", layer, rest)
                                        : fmt::format("{} has no layer '{}'", layer, rest.substr(0, dot));
    }
    return fmt::format("{} '{}' of {}", own(module->named_parameters()) ? "parameter" : "buffer", rest, layer);
}

// "layer 6, Linear(...)," ends with a comma inside a sentence; at the end of one it goes.
std::string end_of_sentence(std::string s) {
    if (!s.empty() && s.back() == ',') s.pop_back();
    return s;
}

}  // namespace

template <class T>
Variable<T> Module<T>::forward(const Variable<T>&) {
    throw Error(
        fmt::format("{}: forward(x) is not defined for this module; override forward or call the "
                    "module's own operator()",
                    label()));
}

template <class T>
std::string Module<T>::name() const {
    const char* raw = typeid(*this).name();
    int status = 0;
    char* demangled = abi::__cxa_demangle(raw, nullptr, nullptr, &status);
    std::string full = status == 0 && demangled ? demangled : raw;
    std::free(demangled);
    // "tapegrad::nn::Foo<double>" or "main()::Net" -> "Foo", "Net"
    const std::size_t angle = full.find('<');
    if (angle != std::string::npos) full.erase(angle);
    const std::size_t colon = full.rfind("::");
    if (colon != std::string::npos) full.erase(0, colon + 2);
    return full;
}

template <class T>
void Module<T>::check_name(const char* fn, const std::string& name) const {
    if (name.empty() || name.find('.') != std::string::npos)
        throw Error(fmt::format("{}: {}: name '{}' must be non-empty and contain no '.'", label(), fn, name));
    auto used = [&](const auto& list) {
        for (const auto& entry : list)
            if (entry.first == name) return true;
        return false;
    };
    if (used(params_) || used(buffers_) || used(counters_) || used(children_))
        throw Error(fmt::format("{}: {}: name '{}' is already used in this module", label(), fn, name));
}

template <class T>
Variable<T> Module<T>::register_parameter(const std::string& name, Variable<T> value) {
    check_name("register_parameter", name);
    if (!value.defined() || !value.is_leaf())
        throw Error(fmt::format("{}: register_parameter: '{}' must be a leaf Variable (data, not the result of an op)",
                                label(), name));
    value.set_requires_grad(true);
    params_.emplace_back(name, value);
    return value;
}

template <class T>
Variable<T> Module<T>::register_buffer(const std::string& name, Variable<T> value) {
    check_name("register_buffer", name);
    if (!value.defined() || !value.is_leaf())
        throw Error(fmt::format("{}: register_buffer: '{}' must be a leaf Variable (data, not the result of an op)",
                                label(), name));
    value.set_requires_grad(false);
    buffers_.emplace_back(name, value);
    return value;
}

template <class T>
std::shared_ptr<std::int64_t> Module<T>::register_counter(const std::string& name, std::int64_t initial) {
    check_name("register_counter", name);
    auto counter = std::make_shared<std::int64_t>(initial);
    counters_.emplace_back(name, counter);
    return counter;
}

template <class T>
void Module<T>::collect_counters(const std::string& prefix, NamedCounters& out) const {
    for (const auto& [n, c] : counters_) out.emplace_back(prefix + n, c);
    for (const auto& [n, child] : children_) child->collect_counters(prefix + n + ".", out);
}

template <class T>
NamedCounters Module<T>::named_counters() const {
    NamedCounters out;
    collect_counters("", out);
    return out;
}

template <class T>
void Module<T>::add_child(const std::string& name, std::shared_ptr<Module<T>> child) {
    check_name("register_module", name);
    if (!child) throw Error(fmt::format("{}: register_module: '{}' is a null pointer", label(), name));
    if (child.get() == this) throw Error(fmt::format("{}: register_module: '{}' is the module itself", label(), name));
    children_.emplace_back(name, std::move(child));
}

template <class T>
void Module<T>::collect(const std::string& prefix, NamedVariables<T>* params, NamedVariables<T>* buffers,
                        NamedVariables<T>* state) const {
    for (const auto& [n, v] : params_) {
        if (params) params->emplace_back(prefix + n, v);
        if (state) state->emplace_back(prefix + n, v);
    }
    for (const auto& [n, v] : buffers_) {
        if (buffers) buffers->emplace_back(prefix + n, v);
        if (state) state->emplace_back(prefix + n, v);
    }
    for (const auto& [n, child] : children_) child->collect(prefix + n + ".", params, buffers, state);
}

template <class T>
std::vector<Variable<T>> Module<T>::parameters() const {
    std::vector<Variable<T>> out;
    for (auto& entry : named_parameters()) out.push_back(std::move(entry.second));
    return out;
}

template <class T>
NamedVariables<T> Module<T>::named_parameters() const {
    NamedVariables<T> out;
    collect("", &out, nullptr, nullptr);
    return out;
}

template <class T>
std::vector<Variable<T>> Module<T>::buffers() const {
    std::vector<Variable<T>> out;
    for (auto& entry : named_buffers()) out.push_back(std::move(entry.second));
    return out;
}

template <class T>
NamedVariables<T> Module<T>::named_buffers() const {
    NamedVariables<T> out;
    collect("", nullptr, &out, nullptr);
    return out;
}

template <class T>
NamedVariables<T> Module<T>::state() const {
    NamedVariables<T> out;
    collect("", nullptr, nullptr, &out);
    return out;
}

template <class T>
void Module<T>::load_state(const NamedVariables<T>& state, const std::string& context) {
    const NamedVariables<T> mine = this->state();
    std::set<std::string> given;
    for (const auto& [n, v] : state) {
        if (!given.insert(n).second) throw Error(fmt::format("{}: '{}' is given twice", context, n));
        if (!v.defined()) throw Error(fmt::format("{}: '{}' is an empty Variable", context, n));
    }
    std::set<std::string> wanted;
    bool found = false;
    for (const auto& [n, v] : mine) {
        wanted.insert(n);
        if (!given.count(n))
            throw Error(fmt::format("{}: '{}' (shape {}) is missing: {}", context, n, shape_string(v.shape()),
                                    end_of_sentence(owner_of(*this, n, found))));
    }
    for (const auto& [n, v] : state)
        if (!wanted.count(n))
            throw Error(fmt::format("{}: unexpected '{}' (shape {}): {}", context, n, shape_string(v.shape()),
                                    owner_of(*this, n, found)));
    for (const auto& [n, v] : state)
        for (const auto& [m, target] : mine)
            if (m == n && v.shape() != target.shape())
                throw Error(fmt::format("{}: '{}' has shape {}, but {} expects {}", context, n, shape_string(v.shape()),
                                        owner_of(*this, n, found), shape_string(target.shape())));
    // Everything checked: now copy (nothing is changed if any check fails).
    for (const auto& [n, v] : state)
        for (const auto& [m, target] : mine)
            if (m == n) Variable<T>(target).set_value(Tensor<T>(v.value()));
}

template <class T>
void Module<T>::train(bool on) {
    training_ = on;
    for (auto& [n, child] : children_) child->train(on);
}

template <class T>
void Module<T>::zero_grad() {
    for (auto& p : parameters()) p.zero_grad();
}

template <class T>
std::size_t Module<T>::num_parameters() const {
    std::size_t count = 0;
    for (const auto& p : parameters()) count += p.size();
    return count;
}

template <class T>
void Module<T>::print(std::string& out, const std::string& indent) const {
    const std::size_t count = num_parameters();
    const std::string note = count ? fmt::format("  # {} parameter{}", count, count == 1 ? "" : "s") : "";
    if (children_.empty()) {
        out += describe() + note;
        return;
    }
    const std::string s = settings();
    out += name() + "(" + (s.empty() ? "" : s + ",") + "\n";
    for (const auto& [n, child] : children_) {
        out += indent + "  (" + n + "): ";
        child->print(out, indent + "  ");
        out += "\n";
    }
    out += indent + ")" + note;
}

template <class T>
std::string Module<T>::to_string() const {
    std::string out;
    print(out, "");
    return out;
}

template <class T>
std::ostream& operator<<(std::ostream& os, const Module<T>& module) {
    // One module tree per line, like any other printed value: `std::cout << net` needs no endl.
    return os << module.to_string() << '\n';
}

template class Module<float>;
template class Module<double>;
template std::ostream& operator<<(std::ostream&, const Module<float>&);
template std::ostream& operator<<(std::ostream&, const Module<double>&);

}  // namespace tapegrad::nn
