// grad()'s target selection: the requested inputs among the reached nodes, and what leads to them.
#include <tapegrad/autograd/engine/grad_targets.hpp>

namespace tapegrad::detail {

template <class T>
GradTargets<T>::GradTargets(const GraphOrder<T>& graph, const std::vector<Variable<T>>& inputs)
    : flags_(graph.nodes.size(), 0), input_id_(inputs.size(), NodeIndex::none), same_as_(inputs.size(), -1) {
    for (std::size_t j = 0; j < inputs.size(); ++j) {
        const Node<T>* m = inputs[j].node();
        for (std::size_t k = 0; k < j && same_as_[j] < 0; ++k)
            if (inputs[k].node() == m) same_as_[j] = int(k);
        if (same_as_[j] >= 0) continue;
        input_id_[j] = graph.id_of(m);
        if (input_id_[j] != NodeIndex::none) flags_[input_id_[j]] |= target_flag | wanted_flag;
    }
    // An op node is wanted when one of its inputs is: inputs come after their consumers in the
    // order, so going through it backwards sees every input before its consumers.
    for (std::size_t i = graph.order.size(); i-- > 0;) {
        const std::uint32_t id = graph.order[i];
        if (flags_[id] & wanted_flag) continue;
        const std::uint32_t* ids = graph.input_ids_of(id);
        for (std::uint32_t k = 0; k < graph.nodes[id]->num_inputs; ++k) {
            const std::uint32_t mid = ids[k];
            if (mid != NodeIndex::none && (flags_[mid] & wanted_flag)) {
                flags_[id] |= wanted_flag;
                break;
            }
        }
    }
}

template <class T>
int GradTargets<T>::target_of(std::uint32_t id) const {
    if (!(flags_[id] & target_flag)) return -1;
    for (std::size_t j = 0; j < input_id_.size(); ++j)
        if (input_id_[j] == id) return int(j);
    return -1;
}

template <class T>
bool GradTargets<T>::reachable(std::size_t j) const {
    const int first = same_as_[j] >= 0 ? same_as_[j] : int(j);
    return input_id_[std::size_t(first)] != NodeIndex::none;
}

template class GradTargets<float>;
template class GradTargets<double>;

}  // namespace tapegrad::detail
