// What a piece of optimizer state may hold: load_state_dict checks each entry against its kind.
#pragma once

namespace tapegrad::optim {

/// The values a state entry may hold.
enum class StateValues {
    finite,       ///< momentum buffers, first moments, directions
    nonnegative,  ///< second moments and sums of squares: finite and >= 0
    positive,     ///< curvature scales (LBFGS's ro and H_diag): finite and > 0
    count,        ///< step counts: a whole number >= 0
};

}  // namespace tapegrad::optim
