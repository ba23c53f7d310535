package androidx.lifecycle;

/** Stand-in for androidx.lifecycle.ViewModelProvider (lifecycle 2.6+, ViewModelProvider.kt). */
public class ViewModelProvider {
    public ViewModelProvider(ViewModelStoreOwner owner) {}

    public <T extends ViewModel> T get(Class<T> modelClass) {
        throw new UnsupportedOperationException("stand-in");
    }
}
