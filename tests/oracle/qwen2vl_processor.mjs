// qwen2vl_processor.mjs - reference for the image tests: runs the Qwen2-VL image
// processor of @huggingface/transformers (transformers.js) on decoded RGB images.
//   node qwen2vl_processor.mjs PREPROCESSOR_CONFIG.json JOBS.json
// JOBS.json: [{"rgb": raw uint8 RGB file (H*W*3), "w": W, "h": H, "out": F32 file}]
// Writes each job's pixel_values (float32, row-major [L, C*T*P*P]) to "out" and
// prints one JSON array: [{"grid": [t, gh, gw], "resized": [H', W'], "shape": [L, D]}].
import fs from 'fs';
import { Qwen2VLImageProcessor, RawImage } from '@huggingface/transformers';

const [cfgPath, jobsPath] = process.argv.slice(2);
const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
const jobs = JSON.parse(fs.readFileSync(jobsPath, 'utf8'));
const proc = new Qwen2VLImageProcessor(cfg);
const res = [];
for (const j of jobs) {
    const buf = fs.readFileSync(j.rgb);
    const img = new RawImage(new Uint8ClampedArray(buf.buffer, buf.byteOffset, buf.length), j.w, j.h, 3);
    const o = await proc(img);
    const pv = o.pixel_values;
    fs.writeFileSync(j.out, Buffer.from(pv.data.buffer, pv.data.byteOffset, pv.data.byteLength));
    res.push({
        grid: o.image_grid_thw.tolist()[0].map(Number),
        resized: o.reshaped_input_sizes[0],
        shape: pv.dims,
    });
}
process.stdout.write(JSON.stringify(res) + '\n');
