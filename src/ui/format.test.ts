import { describe, expect, it } from 'vitest';
import { classifyFiles } from './model/files';
import { formatBytes, formatDuration, formatLimit, formatRate, humanizeKey, showToken } from './format';

describe('format', () => {
  it('formats bytes, rates and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.50 KB');
    expect(formatBytes(1_056_540)).toBe('1.01 MB');
    expect(formatBytes(null)).toBe('—');
    expect(formatRate(2 * 1024 * 1024)).toBe('2.00 MB/s');
    expect(formatDuration(0.2)).toBe('< 1 s');
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(3720)).toBe('1 h 02 min');
    expect(formatDuration(null)).toBe('—');
  });
  it('formats limits and keys', () => {
    expect(formatLimit('maxBufferSize', 268435456)).toBe('256 MB (268,435,456)');
    expect(formatLimit('maxStorageBuffersPerShaderStage', 8)).toBe('8');
    expect(humanizeKey('maxStorageBufferBindingSize')).toBe('Max storage buffer binding size');
  });
});

describe('classifyFiles', () => {
  const f = (name: string, size = 1) => ({ name, size });
  it('finds model and tokenizer', () => {
    const r = classifyFiles([f('tok512.bin', 6000), f('stories260K.bin', 1_000_000)]);
    expect(r.model?.name).toBe('stories260K.bin');
    expect(r.tokenizer?.name).toBe('tok512.bin');
    expect(classifyFiles([f('tokenizer.json'), f('model.safetensors', 9), f('notes.txt', 99)])).toMatchObject({
      model: { name: 'model.safetensors' },
      tokenizer: { name: 'tokenizer.json' },
    });
  });
  it('takes a lone model file', () => {
    const r = classifyFiles([f('qwen2.5-0.5b-q4_0.gguf')]);
    expect(r.model?.name).toBe('qwen2.5-0.5b-q4_0.gguf');
    expect(r.tokenizer).toBeUndefined();
  });
});

describe('showToken', () => {
  it('makes whitespace and control tokens visible', () => {
    expect(showToken(' ')).toBe('␣');
    expect(showToken('\u2581the')).toBe('␣the');
    expect(showToken('\n\n')).toBe('↵↵');
    expect(showToken('\t')).toBe('⇥');
    expect(showToken('\u0001')).toBe('\\u0001');
    expect(showToken('')).toBe('∅');
    expect(showToken('CCO')).toBe('CCO');
  });
});
