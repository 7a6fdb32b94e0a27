// Lowering a Schedule to loop IR: one loop nest per root stage, attached stages computed
// inside their consumer's loops over the inferred region, reductions as init + update
// loops, cross-thread reductions as thread_allreduce, intermediate stages as Allocates.
#pragma once

#include <string>
#include <vector>

#include "ir/te/schedule.h"
#include "targets/target.h"

namespace mlcc::ir::te {

// `args` are the function's buffer parameters in order: placeholders and outputs (every
// placeholder the schedule reads and every output must be there). Symbolic shape variables
// become scalar parameters, as make_prim_func does. With a target, a schedule that binds
// GPU axes for a CPU target, or exceeds the target's threads per block, is refused.
PrimFunc lower(const Schedule& sch, const std::vector<Tensor>& args, const std::string& name,
               const Target* target = nullptr);

}  // namespace mlcc::ir::te
