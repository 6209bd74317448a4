/**
 * Parameter-efficient adapters on a frozen {@link lowbit.nn.Linear}, as HF PEFT defines them so that checkpoints
 * move between the two: {@link lowbit.nn.adapter.AdaptedLinear} (a base layer with weighted adapters, forward,
 * backward, merge, unmerge), {@link lowbit.nn.adapter.LoraAdapter} (LoRA, rsLoRA; inits default, Gaussian, PiSSA,
 * OLoRA), {@link lowbit.nn.adapter.DoraAdapter}, {@link lowbit.nn.adapter.BoneAdapter} (Bone and Bat),
 * {@link lowbit.nn.adapter.SorsaAdapter} with {@link lowbit.nn.adapter.SorsaRegularizer},
 * {@link lowbit.nn.adapter.DyLoraAdapter}, {@link lowbit.nn.adapter.PacaAdapter}; the factorisations behind the inits
 * ({@link lowbit.nn.adapter.Svd}, {@link lowbit.nn.adapter.HouseholderQr}); and PEFT adapter directories
 * ({@link lowbit.nn.adapter.PeftFiles}).
 */
package lowbit.nn.adapter;
