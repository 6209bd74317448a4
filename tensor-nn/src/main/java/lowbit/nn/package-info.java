/**
 * Layers over any weight layout, adapters (LoRA family, Bone, SORSA, DyLoRA, PaCA) with forward, backward and
 * merge, optimizers, N:M masks and pruning criteria. Empty until the adapter and sparsity issues land.
 */
package lowbit.nn;
