package lowbit.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import lowbit.tensor.DType;
import lowbit.tensor.io.SafetensorsFile;

/** GWQ's gradients: a safetensors file with dL/dW under each weight's name (or none). */
final class Gradients implements AutoCloseable {
    private final SafetensorsFile file;

    private Gradients(SafetensorsFile file) {
        this.file = file;
    }

    /** The gradients in {@code path}, or an empty set for null. */
    static Gradients open(Path path) throws IOException {
        if (path == null) {
            return new Gradients(null);
        }
        BaseCommand.requireFile(path);
        return new Gradients(SafetensorsFile.open(path));
    }

    /**
     * The gradient of weight {@code name} [rows, cols] as floats, or null when there is no gradient file.
     *
     * @throws CliException when the file lacks the tensor or its shape or dtype differs
     */
    float[] get(String name, int rows, int cols) {
        if (file == null) {
            return null;
        }
        if (!file.contains(name)) {
            throw CliException.failure(file.source() + ": no gradient for " + name + " (GWQ needs one per quantized "
                    + "weight, under the weight's name)");
        }
        var e = file.entry(name);
        if (!Arrays.equals(e.spec().dims(), new long[] {rows, cols})
                || !e.dtype().lowbit().map(DType::isComputeFloat).orElse(false)) {
            throw CliException.failure(file.source() + ": gradient " + name + " is " + e.dtype() + " "
                    + Arrays.toString(e.spec().dims()) + ", expected F32/F16/BF16 [" + rows + ", " + cols + "]");
        }
        return file.tensor(name).toFloatArray();
    }

    @Override
    public void close() {
        if (file != null) {
            file.close();
        }
    }
}
