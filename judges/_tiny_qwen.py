"""A tiny random Qwen3-VL (model + processor), for tests and demos. No downloads.

``tiny_qwen3_vl()`` builds one in memory for the transformers judge. transformers' Qwen3-VL
processor insists on a video processor, which needs torchvision; that judge only sends images, so
its image-only processor skips that one check.

``save_tiny_qwen3_vl(directory)`` writes a model directory that vLLM can serve (tests/vllm_env.py):
the full processor (image and video), and a text model whose head size vLLM's CPU attention has a
kernel for.
"""

from __future__ import annotations

from typing import Any

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
WORDS = ["yes", "no", "Yes", "No", "YES", "NO", "the", "a", "an", "is", "are", "of", "at", "in", "on", "from", "to", "and", "or", "with", "by", "this", "that", "video", "frames", "frame", "shown", "sampled", "uniformly", "second", "seconds", "s", "look", "only", "what", "shows", "answer", "question", "about", "reply", "exactly", "one", "word", "nothing", "else", "was", "generated", "description", "you", "user", "assistant", "system"]
PUNCT = list(".,:;?!\"'[]()-") + [str(d) for d in range(10)] + ["\n", " "]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n"
    "{% if m.content is string %}{{ m.content }}{% else %}{% for c in m.content %}"
    "{% if c.type == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c.type == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif c.type == 'text' %}{{ c.text }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_tokenizer():
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIAL + ["[UNK]"] + WORDS + PUNCT)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    # words, punctuation and white space, each a token (a plain string would be split on literally, leaving
    # the whole prompt one unknown token: the model would never see the question)
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"\w+|[^\w\s]|\s"), "isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIAL)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="<|im_end|>", pad_token="<|endoftext|>")


def tiny_qwen3_vl(seed: int = 0) -> tuple[Any, Any]:
    """(processor, model): a 2-layer Qwen3-VL with random weights from ``seed`` (~0.1M parameters)."""
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    class ImageOnlyQwen3VLProcessor(Qwen3VLProcessor):
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    tokenizer = tiny_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    image_processor = Qwen2VLImageProcessorPil(patch_size=16, merge_size=2, temporal_patch_size=2,
                                               min_pixels=32 * 32, max_pixels=64 * 64)
    processor = ImageOnlyQwen3VLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                                          chat_template=CHAT_TEMPLATE)
    config = Qwen3VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 1, 1],
                                          "mrope_interleaved": True}),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=4, patch_size=16, spatial_merge_size=2,
                           temporal_patch_size=2, out_hidden_size=32, num_position_embeddings=64, deepstack_visual_indexes=[1]),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
    )
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids("<|im_end|>")
    model.generation_config.pad_token_id = ids("<|endoftext|>")
    return processor, model.eval()


def save_tiny_qwen3_vl(directory, seed: int = 0):
    """Save a tiny random Qwen3-VL that vLLM serves on CPU to ``directory`` (model, tokenizer, image and video processor).

    Needs torchvision (Qwen3-VL's video processor). vLLM's CPU attention has kernels for head sizes 32,
    64, 80, ... only (not 8), so the text model has head_dim 32. The processors bring every frame to
    about 448x448 pixels (about 200 vision tokens, as the real judge's frames cost), scaling small test
    frames up: the video then fills most of each prompt, as it does in real use, so the prefix cache
    sees realistic prompts. A video costs at most 16 such frames.
    """
    from pathlib import Path

    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor, Qwen3VLVideoProcessor
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

    directory = Path(directory)
    tokenizer = tiny_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    frame = 448 * 448  # pixels per frame after the processor's resize
    image_processor = Qwen2VLImageProcessor(patch_size=16, merge_size=2, temporal_patch_size=2,
                                            size={"shortest_edge": frame, "longest_edge": frame})
    # video sizes count pixels over all frames: 8 to 16 frames' worth
    video_processor = Qwen3VLVideoProcessor(patch_size=16, merge_size=2, temporal_patch_size=2, fps=2, min_frames=2,
                                            max_frames=16, size={"shortest_edge": 8 * frame, "longest_edge": 16 * frame})
    processor = Qwen3VLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor,
                                 chat_template=CHAT_TEMPLATE)
    hidden = 64
    config = Qwen3VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=8192,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [6, 5, 5],
                                          "mrope_interleaved": True}),
        vision_config=dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=2, patch_size=16, spatial_merge_size=2,
                           temporal_patch_size=2, out_hidden_size=hidden, num_position_embeddings=64,
                           deepstack_visual_indexes=[1]),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
    )
    config.text_config.eos_token_id = ids("<|im_end|>")
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config).to(torch.float32)
    model.generation_config.eos_token_id = ids("<|im_end|>")
    model.generation_config.pad_token_id = ids("<|endoftext|>")
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
