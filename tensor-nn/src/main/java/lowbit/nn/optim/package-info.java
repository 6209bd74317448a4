/**
 * Training: {@link lowbit.nn.optim.AdamW} (decoupled weight decay, bias-corrected) and {@link lowbit.nn.optim.Sgd}
 * (momentum, Nesterov) over {@link lowbit.nn.Parameter}s, with a NaN/Inf check of every gradient before a step, and
 * the losses {@link lowbit.nn.optim.MseLoss} and {@link lowbit.nn.optim.CrossEntropyLoss}.
 */
package lowbit.nn.optim;
