"""Training: classification as association, backprop through the dynamics."""

from ._classify import (
    accuracy as accuracy,
    cross_entropy as cross_entropy,
    forward as forward,
    log_probs as log_probs,
    standardize as standardize,
)
from ._loop import (
    TrainResult as TrainResult,
    build_classifier as build_classifier,
    data_parallel as data_parallel,
    evaluate as evaluate,
    train_classifier as train_classifier,
)
from ._step import (
    adamw as adamw,
    classification_loss as classification_loss,
    eval_step as eval_step,
    init_opt_state as init_opt_state,
    make_step as make_step,
)
