"""Training: any HAM, any objective, backprop through the dynamics."""

from ._classifier import train_classifier as train_classifier
from ._classify import (
    accuracy as accuracy,
    cross_entropy as cross_entropy,
    log_probs as log_probs,
    standardize as standardize,
)
from ._distributed import (
    initialize_distributed as initialize_distributed,
    is_writer as is_writer,
    resolve_distributed as resolve_distributed,
)
from ._evaluate import evaluate as evaluate
from ._joint import Joint as Joint
from ._memory_parallel import (
    load_sharded as load_sharded,
    memory_mesh as memory_mesh,
    save_sharded as save_sharded,
    shard_memories as shard_memories,
)
from ._objective_io import (
    objective_from_json as objective_from_json,
    objective_to_json as objective_to_json,
)
from ._objectives import (
    AbstractObjective as AbstractObjective,
    Classification as Classification,
    Completion as Completion,
)
from ._parallel import data_parallel as data_parallel
from ._recipes import RECIPES as RECIPES, Recipe as Recipe
from ._rundir import RunDir as RunDir, RunLockedError as RunLockedError
from ._status import TrainStatus as TrainStatus
from ._step import (
    adamw as adamw,
    classification_loss as classification_loss,
    eval_step as eval_step,
    forward as forward,
    init_opt_state as init_opt_state,
    make_step as make_step,
)
from ._strategies import Limits as Limits
from ._trainer import TrainResult as TrainResult, train as train
from ._zoo import (
    build_classifier as build_classifier,
    zoo_objective as zoo_objective,
)
