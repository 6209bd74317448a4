package lowbit.examples.minilm;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The parts of an ONNX model that a weight loader needs: the graph's nodes (operator, inputs, outputs, attributes)
 * and its initializers (the weights), read from the protobuf wire format with protobuf-java's
 * {@link CodedInputStream}.
 *
 * <p><b>Why not generated classes.</b> Generating Java classes from {@code onnx.proto} would mean shipping a copy of
 * that file and running a native {@code protoc} in the build. The loader needs five messages and a dozen fields, so
 * it decodes them directly, by the field numbers of the ONNX specification ({@code onnx.proto3}): ModelProto.graph =
 * 7; GraphProto.node = 1, initializer = 5; NodeProto.input = 1, output = 2, name = 3, op_type = 4, attribute = 5;
 * AttributeProto.name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7, ints = 8; TensorProto.dims = 1, data_type = 2,
 * float_data = 4, int32_data = 5, int64_data = 7, name = 8, raw_data = 9, data_location = 14. Unknown fields are
 * skipped, as protobuf requires. Tensors stored outside the file (external data) are rejected with a message naming
 * the tensor.
 */
public final class OnnxGraph {
    /** ONNX TensorProto.DataType values used here. */
    public static final int FLOAT = 1;
    public static final int INT32 = 6;
    public static final int INT64 = 7;

    private final List<Node> nodes;
    private final Map<String, Initializer> initializers;

    private OnnxGraph(List<Node> nodes, Map<String, Initializer> initializers) {
        this.nodes = Collections.unmodifiableList(nodes);
        this.initializers = Collections.unmodifiableMap(initializers);
    }

    /** A graph node. */
    public record Node(String name, String opType, List<String> inputs, List<String> outputs,
            Map<String, Attribute> attributes) {
    }

    /** A node attribute: the scalar, string, tensor or list fields that were present. */
    public record Attribute(String name, Float f, Long i, String s, Initializer t, float[] floats, long[] ints) {
    }

    /**
     * A tensor: name, ONNX data type, dims, and its little-endian bytes (raw_data, or the typed repeated field
     * re-encoded as little-endian).
     */
    public record Initializer(String name, int dataType, long[] dims, ByteBuffer data) {
        /** The number of elements (product of dims). */
        public long numel() {
            long n = 1;
            for (long d : dims) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        /** The values as floats. */
        public float[] floats() {
            if (dataType != FLOAT) {
                throw new IllegalArgumentException("ONNX tensor '" + name + "' has data type " + dataType
                        + ", expected FLOAT (1)");
            }
            long n = numel();
            if (data.remaining() != n * Float.BYTES) {
                throw new IllegalArgumentException("ONNX tensor '" + name + "' has " + data.remaining()
                        + " bytes of data but dims " + java.util.Arrays.toString(dims) + " need " + n * Float.BYTES);
            }
            float[] out = new float[(int) n];
            data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        }

        /** The values of an INT64 or INT32 tensor as longs. */
        public long[] longs() {
            int width = dataType == INT64 ? 8 : dataType == INT32 ? 4 : -1;
            if (width < 0) {
                throw new IllegalArgumentException("ONNX tensor '" + name + "' has data type " + dataType
                        + ", expected INT64 (7) or INT32 (6)");
            }
            int n = (int) numel();
            if (data.remaining() != (long) n * width) {
                throw new IllegalArgumentException("ONNX tensor '" + name + "' has " + data.remaining()
                        + " bytes of data, dims need " + (long) n * width);
            }
            ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            long[] out = new long[n];
            for (int k = 0; k < n; k++) {
                out[k] = width == 8 ? b.getLong() : b.getInt();
            }
            return out;
        }
    }

    public List<Node> nodes() {
        return nodes;
    }

    /** Initializers by name, in file order. */
    public Map<String, Initializer> initializers() {
        return initializers;
    }

    /**
     * Reads a whole ONNX model (ModelProto) from a stream.
     *
     * @throws IOException when the stream cannot be read or is not a well-formed protobuf message
     */
    public static OnnxGraph read(InputStream in) throws IOException {
        Objects.requireNonNull(in, "input stream is null");
        return read(in.readAllBytes());
    }

    /** Reads a whole ONNX model (ModelProto) from its bytes (not copied: tensors alias the array). */
    public static OnnxGraph read(byte[] model) throws IOException {
        CodedInputStream in = CodedInputStream.newInstance(model);
        in.enableAliasing(true);
        in.setSizeLimit(Integer.MAX_VALUE);
        List<Node> nodes = new ArrayList<>();
        Map<String, Initializer> inits = new LinkedHashMap<>();
        boolean sawGraph = false;
        int tag;
        while ((tag = in.readTag()) != 0) {
            if (WireFormat.getTagFieldNumber(tag) == 7 && wire(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                sawGraph = true;
                int limit = in.pushLimit(in.readRawVarint32());
                readGraph(in, nodes, inits);
                in.popLimit(limit);
            } else {
                in.skipField(tag);
            }
        }
        if (!sawGraph) {
            throw new IOException("not an ONNX model: no graph (ModelProto field 7) in " + model.length + " bytes");
        }
        return new OnnxGraph(nodes, inits);
    }

    private static int wire(int tag) {
        return WireFormat.getTagWireType(tag);
    }

    private static void readGraph(CodedInputStream in, List<Node> nodes, Map<String, Initializer> inits)
            throws IOException {
        int tag;
        while ((tag = in.readTag()) != 0) {
            int field = WireFormat.getTagFieldNumber(tag);
            if (field == 1 && wire(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                int limit = in.pushLimit(in.readRawVarint32());
                nodes.add(readNode(in));
                in.popLimit(limit);
            } else if (field == 5 && wire(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                int limit = in.pushLimit(in.readRawVarint32());
                Initializer t = readTensor(in);
                in.popLimit(limit);
                if (inits.put(t.name(), t) != null) {
                    throw new IOException("ONNX graph has two initializers named '" + t.name() + "'");
                }
            } else {
                in.skipField(tag);
            }
        }
    }

    private static Node readNode(CodedInputStream in) throws IOException {
        List<String> inputs = new ArrayList<>(), outputs = new ArrayList<>();
        Map<String, Attribute> attrs = new LinkedHashMap<>();
        String name = "", op = "";
        int tag;
        while ((tag = in.readTag()) != 0) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case 1 -> inputs.add(in.readStringRequireUtf8());
                case 2 -> outputs.add(in.readStringRequireUtf8());
                case 3 -> name = in.readStringRequireUtf8();
                case 4 -> op = in.readStringRequireUtf8();
                case 5 -> {
                    int limit = in.pushLimit(in.readRawVarint32());
                    Attribute a = readAttribute(in);
                    in.popLimit(limit);
                    attrs.put(a.name(), a);
                }
                default -> in.skipField(tag);
            }
        }
        return new Node(name, op, List.copyOf(inputs), List.copyOf(outputs), Collections.unmodifiableMap(attrs));
    }

    private static Attribute readAttribute(CodedInputStream in) throws IOException {
        String name = "", s = null;
        Float f = null;
        Long i = null;
        Initializer t = null;
        List<Float> floats = new ArrayList<>();
        List<Long> ints = new ArrayList<>();
        int tag;
        while ((tag = in.readTag()) != 0) {
            int field = WireFormat.getTagFieldNumber(tag);
            boolean packed = wire(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
            switch (field) {
                case 1 -> name = in.readStringRequireUtf8();
                case 2 -> f = in.readFloat();
                case 3 -> i = in.readInt64();
                case 4 -> s = in.readBytes().toStringUtf8();
                case 5 -> {
                    int limit = in.pushLimit(in.readRawVarint32());
                    t = readTensor(in);
                    in.popLimit(limit);
                }
                case 7 -> {
                    if (packed) {
                        int limit = in.pushLimit(in.readRawVarint32());
                        while (in.getBytesUntilLimit() > 0) {
                            floats.add(in.readFloat());
                        }
                        in.popLimit(limit);
                    } else {
                        floats.add(in.readFloat());
                    }
                }
                case 8 -> {
                    if (packed) {
                        int limit = in.pushLimit(in.readRawVarint32());
                        while (in.getBytesUntilLimit() > 0) {
                            ints.add(in.readInt64());
                        }
                        in.popLimit(limit);
                    } else {
                        ints.add(in.readInt64());
                    }
                }
                default -> in.skipField(tag);
            }
        }
        float[] fa = new float[floats.size()];
        for (int k = 0; k < fa.length; k++) {
            fa[k] = floats.get(k);
        }
        return new Attribute(name, f, i, s, t, fa, ints.stream().mapToLong(Long::longValue).toArray());
    }

    private static Initializer readTensor(CodedInputStream in) throws IOException {
        List<Long> dims = new ArrayList<>();
        int type = 0;
        String name = "";
        ByteString raw = null;
        ByteBuffer typed = null;
        java.io.ByteArrayOutputStream typedBytes = null;
        boolean external = false;
        int tag;
        while ((tag = in.readTag()) != 0) {
            int field = WireFormat.getTagFieldNumber(tag);
            boolean packed = wire(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
            switch (field) {
                case 1 -> {
                    if (packed) {
                        int limit = in.pushLimit(in.readRawVarint32());
                        while (in.getBytesUntilLimit() > 0) {
                            dims.add(in.readInt64());
                        }
                        in.popLimit(limit);
                    } else {
                        dims.add(in.readInt64());
                    }
                }
                case 2 -> type = in.readInt32();
                case 8 -> name = in.readStringRequireUtf8();
                case 9 -> raw = in.readBytes();
                case 14 -> external = in.readEnum() == 1;
                case 4, 5, 7 -> {
                    // typed repeated fields: float_data (fixed32), int32_data (varint), int64_data (varint)
                    if (typedBytes == null) {
                        typedBytes = new java.io.ByteArrayOutputStream();
                    }
                    int limit = packed ? in.pushLimit(in.readRawVarint32()) : -1;
                    do {
                        ByteBuffer one = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                        if (field == 4) {
                            one.putFloat(in.readFloat());
                        } else if (field == 5) {
                            one.putInt(in.readInt32());
                        } else {
                            one.putLong(in.readInt64());
                        }
                        typedBytes.write(one.array(), 0, one.position());
                    } while (packed && in.getBytesUntilLimit() > 0);
                    if (packed) {
                        in.popLimit(limit);
                    }
                }
                default -> in.skipField(tag);
            }
        }
        if (external) {
            throw new IOException("ONNX tensor '" + name + "' is stored in an external data file, which this reader "
                    + "does not load");
        }
        if (typedBytes != null) {
            typed = ByteBuffer.wrap(typedBytes.toByteArray());
        }
        ByteBuffer data = raw != null ? raw.asReadOnlyByteBuffer() : typed != null ? typed : ByteBuffer.allocate(0);
        long[] d = dims.stream().mapToLong(Long::longValue).toArray();
        for (long v : d) {
            if (v < 0) {
                throw new IOException("ONNX tensor '" + name + "' has a negative dimension: " + dims);
            }
        }
        return new Initializer(name, type, d, data);
    }
}
