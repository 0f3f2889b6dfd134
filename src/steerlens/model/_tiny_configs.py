# ruff: noqa: E501  (a data table: one line per entry reads best)
"""Per-type settings for the tiny coverage models (:func:`steerlens.model.coverage.tiny_config`).

The generic shrinking in :mod:`steerlens.model.coverage` builds most types; these entries make the
rest build while staying genuinely of their type (hybrids keep one layer of each kind, MoE keeps
several experts).

OVERRIDES[mt]  : dict merged recursively into the shrunk config dict d (nested dicts merge into sub-configs;
                 a nested dict with "__replace__": True replaces instead of merging).
DROP_KEYS[mt]  : dotted paths deleted from d BEFORE the merge (e.g. "text_config.per_layer_config").
INIT[mt]       : kwargs for the default config constructor cls(**INIT[mt]) before shrinking (default config invalid).
EXCLUDE[mt]    : types that cannot reasonably run text-only with input_ids, with a reason.

Structural notes (things a hooking library should expect), beyond the per-entry comments below:
  * hidden_states count != num_layers + 1:
      dory (looped middle block, 4 layers -> 7 states), hrm_text (num_hidden_layers rewritten to
      num_layers_per_stack*H_cycles*(L_cycles+1) = 16 layer applications), inkling2_loop_text (looped block -> 11 states
      for 6 layers), mllama (cross-attention layers are SKIPPED without pixel values -> 3 states for 3 layers),
      longcat_flash (config num_layers=3 but each layer has 2 attention sublayers -> num_hidden_layers=6, 4 states),
      blt (states recorded from every BltTransformerLayer across patcher/encoder/global/decoder stacks).
  * gemma3n_text: hidden_states are STACKED with an extra leading AltUp dim: each is (altup_num_inputs=4, B, T, H).
  * hyper-connections / multi-stream residuals: qwen4_exp(_text) (hc_count=4, hidden repeated along hidden dim inside),
      deepseek_v4 (hc_mult=4 Sinkhorn-mixed streams); the returned hidden_states are collapsed back to (B, T, H).
  * different layer kinds with different submodule names/classes: lfm2/lfm2_moe (`conv` vs `self_attn`),
      nemotron_h (single `mixer` that is mamba/moe/attention/mlp), recurrent_gemma (`temporal_block` = RG-LRU or local
      attention), zamba/zamba2 (`mamba` vs hybrid layers with `shared_transformer` (tied) + `mamba_decoder`),
      jamba/bamba/granitemoehybrid/falcon_h1 (mamba + attention; falcon_h1 has BOTH in every layer, in parallel),
      bailing_hybrid/kimi_linear/qwen3_next-like (linear vs full attention classes under the same `self_attn` name),
      longcat_flash (`self_attn` is a ModuleList of 2 MLA, `mlps` ModuleList + shortcut MoE `mlp`), mllama (cross-attn
      decoder layers of a different class), xlstm (mLSTM blocks, no attention), rwkv, mamba2, reformer (local/LSH).
  * per-layer heterogeneous configs (config.per_layer_config): dots3_note(_text) (sliding layers use a different MLA
      shape), gemma4* (full-attention layers use a larger head_dim), dots3_note vision (pyramid expert counts).
  * encoder-decoder families (bart, mbart, marian, pegasus, plbart, blenderbot*, bigbird_pegasus, mvp, trocr, whisper,
      prophetnet): *ForCausalLM builds only the decoder (model.decoder.layers); prophetnet decoder has main + n-gram
      predict streams. gemma4 / gemma4_unified / got_ocr2 / qwen4_exp / phi4_multimodal / emu3 / mllama / dots3_note map
      to multimodal or wrapper classes (language model under model.language_model or similar).
"""

from typing import Any

# MLA (multi-head latent attention) family: MLA needs num_key_value_heads == num_attention_heads (k/v are per-head
# after kv_b_proj); qk_head_dim is a serialised derived field (nope+rope) that must be consistent.
_MLA: dict[str, Any] = dict(num_key_value_heads=4, qk_head_dim=16)
OVERRIDES: dict[str, dict[str, Any]] = {
    k: dict(_MLA)
    for k in [
        "axk1",
        "axk2",
        "deepseek_v2",
        "deepseek_v3",
        "deepseek_v32",
        "glm4_moe_lite",
        "glm_moe_dsa",
        "minicpm3",
        "sarvam_mla",
        "youtu",
    ]
}
OVERRIDES["deepseek_v2"].update(num_experts_per_tok=2)
for k in ["axk1", "deepseek_v32"]:
    OVERRIDES[k].update(index_head_dim=16, index_n_heads=4, index_topk=4, n_group=2, topk_group=1)
OVERRIDES["glm_moe_dsa"].update(index_head_dim=16, index_n_heads=4, index_topk=4)
DROP_KEYS: dict[str, list[str]] = {}
EXCLUDE: dict[str, str] = {}
# --- mamba2-style hybrids: mamba_n_heads * mamba_d_head must equal mamba_expand * hidden_size (2*32=64)
OVERRIDES["bamba"] = dict(
    mamba_n_heads=8, attn_layer_indices=[1]
)  # default attn_layer_indices=None -> all mamba; force 1 attention layer
OVERRIDES["falcon_h1"] = dict(mamba_n_heads=8, mamba_d_ssm=64)  # parallel hybrid: every layer has attn + mamba side by side
OVERRIDES["granitemoehybrid"] = dict(mamba_n_heads=8, layer_types=["linear_attention", "full_attention", "linear_attention"])
OVERRIDES["mamba2"] = dict(num_heads=8, time_step_rank="auto")
OVERRIDES["jamba"] = dict(
    attn_layer_offset=1, attn_layer_period=2, expert_layer_offset=1, expert_layer_period=2, num_hidden_layers=4, mamba_dt_rank=8
)
# dory: to_dict() serialises each layer as (attn, "mlp") pairs and doubles the counts; __post_init__ halves them back.
# Looped/recurrent middle block (n_recurrent_loops=2) -> layers are re-applied, hidden_states count may differ from num layers.
OVERRIDES["dory"] = dict(
    num_hidden_layers=8,
    layer_types=["sliding_attention", "mlp"] * 3 + ["full_attention", "mlp"],
    n_input_layers=2,
    n_recurrent_layers=4,
    n_output_layers=2,
)
OVERRIDES["codegen"] = dict(rotary_dim=4)
OVERRIDES["gptj"] = dict(rotary_dim=4)
OVERRIDES["dots1"] = dict(n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2)
OVERRIDES["beam"] = dict(n_group=2, topk_group=1)
# cohere_compass_text: rotary embedding indexes rope_parameters per layer type (default rope_parameters={} -> KeyError)
OVERRIDES["cohere_compass_text"] = dict(rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 10000.0}})
# dbrx: DbrxAttentionConfig dataclass has no rope_theta field but DbrxAttention reads attn_config.rope_theta (transformers bug) -> pass as extra kwarg
OVERRIDES["dbrx"] = dict(attn_config={"rope_theta": 10000.0})
OVERRIDES["dbrx"]["attn_config"]["clip_qkv"] = 8.0  # clip_qkv=None -> torch.clamp(None, None) error
# dots3_note_text: HETEROGENEOUS per-layer attention. Layers 0,1 (and i%4==1) are MLA "indexed_attention" (DSA indexer),
# other layers are "sliding_attention" with a different MLA shape given through config.per_layer_config[idx]
# (per-layer sub-configs). Regenerate per_layer_config from the swa_* kwargs instead of the 46-layer default.
_DOTS3_TEXT = dict(
    index_head_dim=16,
    index_n_heads=4,
    index_topk=4,
    shared_experts_intermediate_size=32,
    num_key_value_heads=4,
    swa_num_attention_heads=8,
    swa_num_key_value_heads=8,
    swa_q_lora_rank=16,
    swa_kv_lora_rank=16,
    swa_head_dim=16,
    swa_qk_nope_head_dim=8,
    swa_v_head_dim=8,
)
OVERRIDES["dots3_note_text"] = dict(_DOTS3_TEXT)
DROP_KEYS["dots3_note_text"] = ["per_layer_config"]
_TOK = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)
# dots3_note (omni: text + vision MoE-pyramid encoder + audio encoder). Text part as dots3_note_text.
# Vision encoder also uses per_layer_config (per-layer expert counts: "pyramid" MoE growing with depth).
OVERRIDES["dots3_note"] = dict(
    text_config=dict(_DOTS3_TEXT, **_TOK),
    vision_config=dict(
        num_hidden_layers=2,
        mlp_layer_types=["dense", "sparse"],
        per_layer_config={"1": {"num_local_experts": 4, "num_experts_per_tok": 2}},
        adapter_in_dim=32,
        adapter_out_dim=32,
    ),
    audio_config=dict(downsample_hidden_size=8, feature_size=16, conv_output_size=16, adapter_input_size=32, adapter_out_dim=32),
    image_token_id=93,
    video_token_id=94,
    audio_token_id=95,
)
DROP_KEYS["dots3_note"] = ["text_config.per_layer_config", "vision_config.per_layer_config"]
# gemma4 family: per_layer_config gives full-attention layers a bigger head_dim (global head_dim 512 vs 256);
# keep that heterogeneity with head_dim 16 on the (shrunk) full-attention layer 5. Also per-layer-input embeddings (PLE).
_G4_TEXT = dict(per_layer_config={"5": {"head_dim": 16}}, vocab_size_per_layer_input=96, hidden_size_per_layer_input=8)
OVERRIDES["gemma4_text"] = dict(_G4_TEXT)
DROP_KEYS["gemma4_text"] = ["per_layer_config"]
# hrm_text: hierarchical recurrent; num_hidden_layers is rewritten to num_layers_per_stack*H_cycles*(L_cycles+1)
OVERRIDES["hrm_text"] = dict(num_layers_per_stack=None, num_hidden_layers=2)
OVERRIDES["hunyuan_v1_dense"] = dict(head_dim=8)
OVERRIDES["hunyuan_v1_moe"] = dict(head_dim=8)
OVERRIDES["ministral"] = dict(head_dim=8)
OVERRIDES["nemotron"] = dict(num_key_value_heads=2)
# qwen4_exp_text: hyper-connections (hidden_states repeated hc_count=4 times along hidden dim inside the model),
# gated-deltanet linear attention + "indexed_attention" (QSA indexer) layers, MoE. n-gram PLE disabled by default (ple_layer_ids=[]).
_Q4 = dict(
    hc_lowrank=8,
    shared_expert_intermediate_size=32,
    indexer_n_heads=2,
    indexer_kv_heads=1,
    indexer_head_dim=8,
    indexer_budget=4,
    indexer_compress_ratio=2,
    ngram_vocab_size_base=128,
    make_ngram_vocab_size_divisible_by=8,
    ple_embed_dim=32,
)
OVERRIDES["qwen4_exp_text"] = dict(_Q4)
# lfm2 / lfm2_moe: hybrid short-conv + attention. Default layer_types=None -> lfm2 becomes ALL attention, lfm2_moe crashes.
# conv layers have submodule `conv` instead of `self_attn` (different submodule names per layer kind).
OVERRIDES["lfm2"] = dict(layer_types=["conv", "full_attention", "conv"])
OVERRIDES["lfm2_moe"] = dict(num_hidden_layers=4, layer_types=["conv", "full_attention", "conv", "conv"], num_dense_layers=1)
OVERRIDES["reformer"] = dict(
    is_decoder=True,
    attention_head_size=8,
    axial_pos_shape=[8, 16],
    axial_pos_embds_dim=[8, 24],
    feed_forward_size=64,
    local_attn_chunk_length=8,
    lsh_attn_chunk_length=8,
    num_buckets=4,
)
OVERRIDES["rwkv"] = dict(attention_hidden_size=32, context_length=128)
OVERRIDES["xlnet"] = dict(d_head=8, d_inner=64, mem_len=16)
OVERRIDES["xlstm"] = dict(embedding_dim=32, num_blocks=3, ffn_round_up_to_multiple_of=16, chunk_size=8)
# zaya: only top-1 routing supported; layers are "hybrid" (attention + MoE with router MLP)
OVERRIDES["zaya"] = dict(num_experts_per_tok=1, router_hidden_size=16)
OVERRIDES["lfm2"] = dict(
    num_hidden_layers=3, full_attn_idxs=[1], layer_types=["conv", "full_attention", "conv"], block_multiple_of=16
)
# xlstm: cache state uses qk_dim/v_dim rounded UP to a multiple of 64 while layers use hidden*factor unrounded
# -> hidden*qk_dim_factor and hidden*v_dim_factor must both be multiples of 64. Blocks are mLSTM (no attention modules).
OVERRIDES["xlstm"] = dict(
    hidden_size=64, embedding_dim=64, qk_dim_factor=1.0, num_blocks=3, ffn_round_up_to_multiple_of=16, chunk_size=8
)
# zamba / zamba2: mamba layers + "hybrid" layers = a SHARED transformer block (weights tied across hybrid layers,
# input is concat(hidden, original embeddings) -> attention_hidden_size = 2*hidden) followed by a mamba layer.
# Need >= 2 hybrid layers, otherwise the tied-weights regex for shared_transformer finds no target.
OVERRIDES["zamba"] = dict(
    num_hidden_layers=4,
    layers_block_type=["linear_attention", "hybrid", "linear_attention", "hybrid"],
    attention_hidden_size=None,
    attention_head_dim=None,
    mamba_dt_rank="auto",
)
OVERRIDES["zamba2"] = dict(
    num_hidden_layers=4,
    layers_block_type=["linear_attention", "hybrid", "linear_attention", "hybrid"],
    adapter_rank=8,
    chunk_size=8,
)
# zamba2: derived fields are serialised by to_dict and win over __post_init__ on from_dict -> set them consistently
OVERRIDES["zamba2"].update(
    attention_hidden_size=64, attention_head_dim=16, mamba_headdim=8, kv_channels=8, num_query_groups=4, hybrid_layer_ids=[1, 3]
)
# emu3: text tokens ids in text_config exceed the shrunk vocab; vq (image tokenizer) shrunk
OVERRIDES["emu3"] = dict(
    text_config=dict(_TOK), vq_config=dict(codebook_size=64, base_channels=32, channel_multiplier=[1, 2], attn_resolutions=[])
)
# mllama: text model interleaves CROSS-ATTENTION decoder layers (cross_attention_layers idx) of a different class
# (MllamaCrossAttentionDecoderLayer: cross_attn + gates) with self-attention layers; without pixel values they are skipped.
OVERRIDES["mllama"] = dict(
    text_config=dict(_TOK, cross_attention_layers=[1]),
    vision_config=dict(
        num_global_layers=2,
        attention_heads=4,
        intermediate_layers_indices=[0, 1],
        vision_output_dim=96,
        image_size=28,
        max_num_tiles=2,
        supported_aspect_ratios=[[1, 1], [1, 2], [2, 1]],
    ),
    image_token_index=95,
)
EXCLUDE["musicgen"] = (
    "composite MusicgenConfig (text_encoder/audio_encoder/decoder) -> MusicgenForCausalLM needs the decoder sub-config; input_ids are audio codes shaped (bsz*num_codebooks, seq)"
)
EXCLUDE["musicgen_melody"] = EXCLUDE["musicgen"]
# --- encoder-decoder families: only the decoder is built by *ForCausalLM (decoder-only wrapper, is_decoder forced),
# but the shrink misses encoder_/decoder_ prefixed sizes. Cache is sized from num_hidden_layers (aliased to
# encoder_layers) -> encoder_layers must be >= decoder_layers, else IndexError in cache.update.
_ED = dict(
    encoder_layers=3,
    decoder_layers=3,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
)
for _k in [
    "bart",
    "bigbird_pegasus",
    "blenderbot",
    "blenderbot-small",
    "mbart",
    "mvp",
    "pegasus",
    "plbart",
    "trocr",
    "marian",
    "whisper",
]:
    OVERRIDES[_k] = dict(_ED)
OVERRIDES["marian"].update(decoder_vocab_size=96, decoder_start_token_id=2)  # separate decoder vocab (58101 default)
OVERRIDES["whisper"].update(decoder_start_token_id=2, begin_suppress_tokens=[3], max_source_positions=16, max_target_positions=64)
OVERRIDES["prophetnet"] = dict(
    num_encoder_layers=3,
    num_decoder_layers=3,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    num_encoder_attention_heads=4,
    num_decoder_attention_heads=4,
)  # n-gram stream decoder (ngram=2): main + predict streams
OVERRIDES["cpmant"] = dict(
    dim_head=8,
    dim_ff=64,
    position_bias_num_buckets=32,
    position_bias_max_distance=128,
    prompt_types=4,
    prompt_length=4,
    segment_types=4,
)
# roc_bert: extra pronunciation/shape embeddings concatenated with word embeddings (concat_input)
OVERRIDES["roc_bert"] = dict(
    is_decoder=True, pronunciation_embed_dim=8, pronunciation_vocab_size=16, shape_embed_dim=8, shape_vocab_size=16
)
OVERRIDES["xlm"] = dict(emb_dim=32)  # default causal=False kept (bidirectional MLM head)
# bailing_hybrid / kimi_linear: hybrid KDA linear attention ("linear_attention") + MLA full attention; MoE.
# Both kinds live under `self_attn` but are different classes (different inner submodules, e.g. conv1d/forget_gate vs kv_a_proj).
_KDA = dict(linear_head_dim=8, linear_num_heads=4, num_experts_per_token=2, qk_head_dim=16, num_key_value_heads=4)
OVERRIDES["bailing_hybrid"] = dict(_KDA, num_expert_group=2, topk_group=1)
OVERRIDES["kimi_linear"] = dict(_KDA)
# recurrent_gemma: Griffin; layers have `temporal_block` = RG-LRU recurrent block OR local attention (block_types), no `self_attn` name
OVERRIDES["recurrent_gemma"] = dict(lru_width=32, attention_window_size=64)
# longcat_flash: each decoder layer has TWO attention sublayers (self_attn is a ModuleList of 2 MLA) and 2 dense MLPs
# plus a shortcut-connected MoE with "zero experts" (identity experts); num_layers counts these double layers.
OVERRIDES["longcat_flash"] = dict(num_key_value_heads=4, qk_head_dim=16, moe_topk=2, zero_expert_num=2, expert_ffn_hidden_size=32)
# inkling family: "hybrid_sliding"/"hybrid" layers (SWA layers use separate swa_* head config), relative-position bias
# projection (r_proj / relative_position_bias), MoE with shared expert sink.
_INK = dict(swa_num_attention_heads=4, swa_num_key_value_heads=2, swa_head_dim=8, sliding_window_size=64, rel_extent=64)
OVERRIDES["inkling_text"] = dict(_INK)
# inkling2*: gated linear wrappers (q_proj.linear / o_proj.gate_proj), "attention residual" blocks (n_layers_per_attn_res_block)
OVERRIDES["inkling2_text"] = dict(_INK, unpadded_vocab_size=96)
# inkling2_loop_text: layers [loop_layer_index_start, loop_layer_index_end) are re-applied loop_num_passes times (looped block)
OVERRIDES["inkling2_loop_text"] = dict(
    _INK, unpadded_vocab_size=96, loop_layer_index_start=2, loop_layer_index_end=4, loop_gate_rank=8
)
OVERRIDES["inkling2_text"]["n_layers_per_attn_res_block"] = 3  # 2 attn-res blocks over 6 layers
OVERRIDES["inkling2_loop_text"]["n_layers_per_attn_res_block"] = 2  # loop bounds must be multiples of it
# blt (Byte Latent Transformer): byte-level local encoder -> patch-level global transformer -> local decoder,
# with an entropy "patcher" LM run inside forward (patch_in_forward); cross-attention between bytes and patches;
# hash n-gram byte embeddings. Layers live in model.local_encoder.layers / model.global_transformer.layers / model.local_decoder.layers.
OVERRIDES["blt"] = dict(
    encoder_hash_byte_group_vocab=64,
    local_attention_window_len=64,
    encoder_config=dict(hidden_size_global=32),
    decoder_config=dict(hidden_size_global=32),
)
# phi4_multimodal: text decoder + vision (SigLIP) + audio (conformer) towers inside embed_tokens_extend
OVERRIDES["phi4_multimodal"] = dict(
    vision_config=dict(image_size=28, crop_size=28, image_token_id=94),
    audio_config=dict(
        num_blocks=2,
        ext_pw_out_channel=32,
        depthwise_separable_out_channel=32,
        nemo_conv_channels=32,
        audio_token_id=95,
        left_chunk=2,
    ),
)
# BltConfig lacks a top-level num_hidden_layers but BltModel.forward builds DynamicCache(config=self.config) -> AttributeError
# (transformers bug); give it one (all sub-stacks have 3 layers).
OVERRIDES["blt"]["num_hidden_layers"] = 3
# kwargs for the *default* config constructor (before shrinking), for types whose default config does not validate
INIT: dict[str, dict[str, Any]] = {}
# gemma4_assistant: speculative-decoding drafter; ALL layers are kv-shared (reuse the backbone's K/V), no PLE.
# Default Gemma4AssistantConfig() itself fails validation (text_config default has PLE) -> build it with PLE off.
INIT["gemma4_assistant"] = dict(text_config=dict(hidden_size_per_layer_input=0, vocab_size_per_layer_input=0))
OVERRIDES["gemma4_assistant"] = dict(
    backbone_hidden_size=32,
    num_centroids=8,
    centroid_intermediate_top_k=2,
    text_config=dict(per_layer_config={"5": {"head_dim": 16}}, num_kv_shared_layers=6),
)
DROP_KEYS["gemma4_assistant"] = ["text_config.per_layer_config"]
EXCLUDE["gemma4_assistant"] = (
    "drafter: forward requires inputs_embeds + shared_kv_states from the gemma4 backbone (all layers kv-shared); builds tiny with the overrides but cannot run on input_ids alone"
)
OVERRIDES["gemma4"] = dict(
    text_config=dict(_G4_TEXT, **_TOK),
    image_token_id=93,
    audio_token_id=94,
    video_token_id=95,
    boi_token_id=90,
    eoi_token_id=91,
    boa_token_id=92,
    eoa_token_index=89,
)
DROP_KEYS["gemma4"] = ["text_config.per_layer_config"]
_G4U_TEXT = dict(per_layer_config={"5": {"head_dim": 16}})  # unified variant: no PLE
OVERRIDES["gemma4_unified_text"] = dict(_G4U_TEXT)
DROP_KEYS["gemma4_unified_text"] = ["per_layer_config"]
OVERRIDES["gemma4_unified"] = dict(
    text_config=dict(_G4U_TEXT, **_TOK),
    image_token_id=93,
    audio_token_id=94,
    video_token_id=95,
    boi_token_id=90,
    eoi_token_id=91,
    boa_token_id=92,
    eoa_token_index=89,
)
DROP_KEYS["gemma4_unified"] = ["text_config.per_layer_config"]
OVERRIDES["gemma4_unified_assistant"] = dict(
    backbone_hidden_size=32,
    num_centroids=8,
    centroid_intermediate_top_k=2,
    text_config=dict(_G4U_TEXT, num_kv_shared_layers=6, **_TOK),
)
DROP_KEYS["gemma4_unified_assistant"] = ["text_config.per_layer_config"]
EXCLUDE["gemma4_unified_assistant"] = EXCLUDE["gemma4_assistant"]
# gemma3n_text: AltUp (hidden_states carry altup_num_inputs=4 parallel streams inside layers; model stacks them along a
# leading dim, outputs are averaged back), Laurel low-rank residual, per-layer inputs (PLE), KV sharing across last layers,
# activation sparsity. intermediate_size is a per-layer LIST.
OVERRIDES["gemma3n_text"] = dict(
    intermediate_size=[64] * 8,
    vocab_size_per_layer_input=96,
    hidden_size_per_layer_input=8,
    num_kv_shared_layers=2,
    laurel_rank=8,
)
EXCLUDE["gemma3n"] = (
    "vision tower is a TimmWrapperModel (needs the timm library, not installed); text part covered by gemma3n_text"
)
EXCLUDE["xmod"] = (
    "X-MOD needs per-language adapters: forward raises unless lang_ids given or set_default_language() called (language set)"
)
OVERRIDES["qwen4_exp"] = dict(
    text_config=dict(_Q4, **_TOK),
    vision_config=dict(depth=2, out_hidden_size=32, num_position_embeddings=16),
    image_token_id=92,
    video_token_id=93,
    vision_start_token_id=94,
    vision_end_token_id=95,
)
# --- size trims for types that already built but were large
OVERRIDES["got_ocr2"] = dict(
    vision_config=dict(mlp_dim=64, output_channels=32, image_size=64, window_size=2, global_attn_indexes=[2]),
    text_config=dict(_TOK),
    image_token_index=95,
    image_seq_length=4,
)
OVERRIDES["qwen2_moe"] = dict(shared_expert_intermediate_size=32)
OVERRIDES["ctrl"] = dict(dff=64)
# deepseek_v4: hyper-connections (hc_mult=4 residual streams mixed by Sinkhorn), compressed-sparse / heavily-compressed
# attention layer kinds, hash-routed MoE ("hash_moe") vs learned MoE layers, grouped low-rank output projection.
# compress rates lowered so compression actually triggers on 7-token inputs.
OVERRIDES["deepseek_v4"] = dict(
    o_lora_rank=16,
    o_groups=2,
    index_n_heads=4,
    index_head_dim=16,
    index_topk=4,
    compress_rates={"compressed_sparse_attention": 2, "heavily_compressed_attention": 4},
)
# nemotron_h: layers are "linear_attention"(mamba2) / "moe" / "full_attention" / "mlp" blocks, each a single `mixer` submodule
OVERRIDES["nemotron_h"] = dict(mamba_num_heads=8, ssm_state_size=8, moe_shared_expert_intermediate_size=32, chunk_size=8)
OVERRIDES["opt"] = dict(word_embed_proj_dim=32)  # default word_embed_proj_dim == hidden_size; keep that (no project_in/out)
OVERRIDES["deepseek_v3"]["first_k_dense_replace"] = 1  # default 3 would make all 3 tiny layers dense (no MoE)
OVERRIDES["deepseek_v3"].update(n_group=2, topk_group=1)  # default n_group=8 > 4 experts
